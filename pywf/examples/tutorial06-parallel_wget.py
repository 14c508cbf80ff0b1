"""Fetch several URLs at once: a parallel of one-task series, each with
its own context; the parallel's callback prints them in argument order.

    python tutorial06-parallel_wget.py <url> [<url> ...]
"""
import sys

import pywf as wf


class Context:
    def __init__(self, url):
        self.url = url
        self.state = wf.WFT_STATE_UNDEFINED
        self.error = 0


def on_reply(task):
    # The response is only valid in this callback: keep copies.
    ctx = wf.series_of(task).get_context()
    ctx.state, ctx.error = task.get_state(), task.get_error()
    resp = task.get_resp()
    if ctx.state == wf.WFT_STATE_SUCCESS:
        ctx.chunked = resp.is_chunked()
        ctx.keep_alive = resp.is_keep_alive()
        ctx.status_code = resp.get_status_code()
        ctx.http_version = resp.get_http_version()
        ctx.body = resp.get_body()


def on_parallel(p):
    for i in range(p.size()):
        ctx = p.series_at(i).get_context()
        if ctx.state == wf.WFT_STATE_SUCCESS:
            print("url:{} chunked:{} keep_alive:{} status_code:{} http_version:{}".format(
                ctx.url, ctx.chunked, ctx.keep_alive, ctx.status_code, ctx.http_version))
        else:
            print("url:{} state:{} error:{}".format(ctx.url, ctx.state, ctx.error))


def main():
    if len(sys.argv) < 2:
        print("USAGE: {} <url> [<url> ...]".format(sys.argv[0]))
        sys.exit(1)
    parallel = wf.create_parallel_work(on_parallel)
    for url in sys.argv[1:]:
        if not url.startswith(("http://", "https://")):
            url = "http://" + url
        task = wf.create_http_task(url, 4, 2, on_reply)
        req = task.get_req()
        req.add_header_pair("Accept", "*/*")
        req.add_header_pair("User-Agent", "Wget/1.14 (linux-gnu)")
        req.add_header_pair("Connection", "close")
        series = wf.create_series_work(task, None)
        series.set_context(Context(url))
        parallel.add_series(series)
    wf.start_series_work(parallel, None)
    wf.wait_finish()


if __name__ == "__main__":
    main()
