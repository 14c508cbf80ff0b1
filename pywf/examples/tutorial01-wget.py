"""Fetch one URL and print the request and the reply's head.

    python tutorial01-wget.py <url>
"""
import sys

import pywf as wf


def on_reply(task):
    state, error = task.get_state(), task.get_error()
    if state != wf.WFT_STATE_SUCCESS:
        print("state:{} error:{} errstr:{}".format(state, error, wf.get_error_string(state, error)))
        return
    req, resp = task.get_req(), task.get_resp()
    print("{} {} {}".format(req.get_method(), req.get_http_version(), req.get_request_uri()))
    for name, value in req.get_headers():
        print("{}: {}".format(name, value))
    print("")
    print("{} {} {}".format(resp.get_http_version(), resp.get_status_code(), resp.get_reason_phrase()))
    for name, value in resp.get_headers():
        print("{}: {}".format(name, value))
    print("\nbody size:{} (ignore body for a clear output)".format(resp.get_body_size()))


def main():
    if len(sys.argv) != 2:
        print("USAGE: {} <http URL>".format(sys.argv[0]))
        sys.exit(1)
    url = sys.argv[1]
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    task = wf.create_http_task(url, redirect_max=4, retry_max=2, callback=on_reply)
    req = task.get_req()
    req.add_header_pair("Accept", "*/*")
    req.add_header_pair("User-Agent", "Wget/1.14 (linux-gnu)")
    req.add_header_pair("Connection", "close")
    task.start()
    wf.wait_finish()


if __name__ == "__main__":
    main()
