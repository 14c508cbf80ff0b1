"""An HTTP file server: each request opens the file and reads it with a
pread task pushed into the request's series; the reply goes out when the
read is done.

    python tutorial09-http_file_server.py <port> [root] [cert_file key_file]
"""
import os
import signal
import socket
import sys
import threading

import pywf as wf


def on_read(task):
    os.close(task.get_fd())
    resp = task.get_user_data()
    if task.get_state() != wf.WFT_STATE_SUCCESS or task.get_retval() < 0:
        resp.set_status_code("503")
        resp.append_body(b"<html>503 Internal Server Error</html>")
    else:
        resp.append_body(task.get_data())


def make_process(root):
    def process(task):
        uri = task.get_req().get_request_uri().split("?", 1)[0]
        path = root + uri
        if path.endswith("/"):
            path += "index.html"
        resp = task.get_resp()
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            resp.set_status_code("404")
            resp.append_body(b"<html>404 Not Found</html>")
            return
        size = os.lseek(fd, 0, os.SEEK_END)
        read = wf.create_pread_task(fd, size, 0, on_read)
        read.set_user_data(resp)
        wf.series_of(task).push_back(read)

    return process


def main():
    if len(sys.argv) not in (2, 3, 5):
        print("USAGE: {} <port> [root] [cert_file key_file]".format(sys.argv[0]))
        sys.exit(1)
    port = int(sys.argv[1])
    root = sys.argv[2] if len(sys.argv) >= 3 else "."
    cond = threading.Condition()
    stopping = []

    def stop(*_):
        with cond:
            stopping.append(True)
            cond.notify()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    server = wf.HttpServer(make_process(root))
    host = os.environ.get("PYWF_HOST")
    tls = tuple(sys.argv[3:5]) if len(sys.argv) == 5 else ()
    started = server.start(socket.AF_INET, host, port, *tls) if host else server.start(port, *tls)
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
