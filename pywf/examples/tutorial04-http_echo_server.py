"""An HTTP server that answers with an HTML page echoing the request's
line and headers; the 10th request of a connection closes it.

    python tutorial04-http_echo_server.py <port>

Stop it with Ctrl-C (SIGINT) or SIGTERM. PYWF_HOST picks the address to
listen on (default: all).
"""
import os
import signal
import socket
import sys
import threading

import pywf as wf


def process(task):
    req, resp = task.get_req(), task.get_resp()
    resp.append_body(b"<html>\n")
    resp.append_body("<p>{} {} {}</p>\n".format(req.get_method(), req.get_request_uri(), req.get_http_version()))
    for name, value in req.get_headers():
        resp.append_body("<p>{}: {}</p>\n".format(name, value))
    resp.append_body(b"</html>\n")
    resp.set_http_version("HTTP/1.1")
    resp.set_status_code("200")
    resp.set_reason_phrase("OK")
    resp.add_header_pair("Content-Type", "text/html")
    resp.add_header_pair("Server", "Sogou Python3 WFHttpServer")
    if task.get_task_seq() == 9:  # close after 10 requests
        resp.add_header_pair("Connection", "close")


def main():
    if len(sys.argv) != 2:
        print("USAGE: {} <port>".format(sys.argv[0]))
        sys.exit(1)
    port = int(sys.argv[1])
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = wf.HttpServer(process)
    host = os.environ.get("PYWF_HOST")
    started = server.start(socket.AF_INET, host, port) if host else server.start(port)
    if started != 0:
        print("Cannot start server")
        sys.exit(1)
    print("listening on {}".format(port), flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()


if __name__ == "__main__":
    main()
