"""A forward HTTP proxy: each request is sent on by a client task pushed
into the request's series, and the upstream reply becomes the answer.

    python tutorial05-http_proxy.py <port>
    curl -x http://127.0.0.1:<port>/ http://target/
"""
import os
import signal
import socket
import sys
import threading

import pywf as wf


class Context:
    def __init__(self, url, proxy_task, is_keep_alive):
        self.url = url
        self.proxy_task = proxy_task
        self.is_keep_alive = is_keep_alive


def on_reply_sent(proxy_task):
    # Runs once the answer went to the client (or failed to).
    ctx = wf.series_of(proxy_task).get_context()
    resp = proxy_task.get_resp()
    if proxy_task.get_state() == wf.WFT_STATE_SUCCESS:
        print("{} Success, Http Status:{} Body Length:{}".format(
            ctx.url, resp.get_status_code(), resp.get_body_size()), flush=True)
    else:
        print("{} Reply failed:{}".format(ctx.url, os.strerror(proxy_task.get_error())), flush=True)


def on_upstream(task):
    ctx = wf.series_of(task).get_context()
    proxy_resp = ctx.proxy_task.get_resp()
    state, error = task.get_state(), task.get_error()
    if state == wf.WFT_STATE_SUCCESS:
        ctx.proxy_task.set_callback(on_reply_sent)
        task.get_resp().move_to(proxy_resp)
        if not ctx.is_keep_alive:
            proxy_resp.set_header_pair("Connection", "close")
        return
    if state == wf.WFT_STATE_SYS_ERROR:
        reason = "system error: " + os.strerror(error)
    elif state == wf.WFT_STATE_DNS_ERROR:
        reason = "DNS error: " + wf.get_error_string(state, error)
    elif state == wf.WFT_STATE_SSL_ERROR:
        reason = "SSL error"
    else:
        reason = "URL error (Cannot be a HTTPS proxy)"
    print("{} Fetch failed, state:{} error:{} {}".format(ctx.url, state, error, reason), flush=True)
    proxy_resp.set_status_code("404")
    proxy_resp.append_body(b"<html>404 Not Found.</html>")


def process(task):
    req = task.get_req()
    url = req.get_request_uri()  # absolute in proxy requests
    series = wf.series_of(task)
    series.set_context(Context(url, task, req.is_keep_alive()))
    upstream = wf.create_http_task(url, 0, 0, on_upstream)
    req.set_request_uri(upstream.get_req().get_request_uri())
    req.move_to(upstream.get_req())
    upstream.get_resp().set_size_limit(200 * 1024 * 1024)
    series << upstream


def main():
    if len(sys.argv) != 2:
        print("USAGE: {} <port>".format(sys.argv[0]))
        sys.exit(1)
    port = int(sys.argv[1])
    cond = threading.Condition()
    stopping = []

    def stop(*_):
        with cond:
            stopping.append(True)
            cond.notify()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    params = wf.ServerParams()
    params.request_size_limit = 8 * 1024 * 1024
    server = wf.HttpServer(params, process)
    host = os.environ.get("PYWF_HOST")
    started = server.start(socket.AF_INET, host, port) if host else server.start(port)
    if started != 0:
        print("Cannot start server")
        sys.exit(1)
    print("listening on {}".format(port), flush=True)
    with cond:
        while not stopping:
            cond.wait(0.5)
    server.stop()


if __name__ == "__main__":
    main()
