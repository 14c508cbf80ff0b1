"""The three flows of pyworkflow's README: one request, a series of
requests, a parallel of requests.

    python readme_flows.py <one|series|parallel> <url> [<url> ...]
"""
import sys

import pywf as wf


def http_callback(task):
    req, resp = task.get_req(), task.get_resp()
    print("uri:{} status:{}".format(req.get_request_uri(), resp.get_status_code()))


def one(urls):
    def callback(task):
        resp = task.get_resp()
        print("Http status:{}\n{}".format(resp.get_status_code(), resp.get_body()))  # body is bytes

    task = wf.create_http_task(urls[0], redirect_max=4, retry_max=2, callback=callback)
    task.start()
    wf.wait_finish()


def series(urls):
    first = wf.create_http_task(urls[0], 4, 2, http_callback)
    s = wf.create_series_work(first, lambda s: print("All task in this series is done"))
    for url in urls[1:]:
        s.push_back(wf.create_http_task(url, 4, 2, http_callback))
    s.start()
    wf.wait_finish()


def parallel(urls):
    p = wf.create_parallel_work(lambda p: print("All series in this parallel is done"))
    for url in urls:
        task = wf.create_http_task(url, 4, 2, http_callback)
        p.add_series(wf.create_series_work(task, None))  # without callback
    p.start()
    wf.wait_finish()


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("one", "series", "parallel"):
        print("USAGE: {} <one|series|parallel> <url> [<url> ...]".format(sys.argv[0]))
        sys.exit(1)
    {"one": one, "series": series, "parallel": parallel}[sys.argv[1]](sys.argv[2:])
