"""Servers: Ctrl-C while a server waits for its requests, and noreply()
from anywhere in a server task's series."""
import socket
import subprocess
import sys
import textwrap

import pytest

import pywf as wf
from conftest import WAIT

# A child that sends itself SIGINT once its main thread waits inside
# `blocked()` (server.stop() or server.wait_finish()) while a request is
# still in flight: process() pushed a ten-minute timer before the reply.
# With a switch interval of 1000 s the main thread lets the other threads
# run only where it blocks, so the thread that sends SIGINT sees it in
# `blocked()` only once it waits in there.
CTRL_C_CHILD = textwrap.dedent("""
    import os, signal, socket, sys, threading, time
    import pywf as wf

    kind, method = sys.argv[1], sys.argv[2]
    sys.setswitchinterval(1000)
    held = threading.Event()

    def process(task):
        wf.series_of(task).push_back(wf.create_timer_task(600 * 1000 * 1000, None))
        held.set()

    server = {"http": wf.HttpServer, "redis": wf.RedisServer}[kind](process)
    assert server.start(socket.AF_INET, "127.0.0.1", 0) == 0
    conn = socket.create_connection(("127.0.0.1", server.get_listen_port()), timeout=60)
    conn.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" if kind == "http" else b"*1\\r\\n$4\\r\\nPING\\r\\n")
    assert held.wait(60), "process() did not run"

    def blocked():
        if method == "stop":
            server.stop()
        else:
            server.wait_finish()

    def ctrl_c():
        main = threading.main_thread().ident
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            frame = sys._current_frames().get(main)
            if frame is not None and frame.f_code.co_name == "blocked":
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)

    if method == "wait_finish":
        server.shutdown()
    threading.Thread(target=ctrl_c, daemon=True).start()
    try:
        blocked()
        print("returned", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    os._exit(0)
""")


@pytest.mark.parametrize("kind", ["http", "redis"])
@pytest.mark.parametrize("method", ["stop", "wait_finish"])
def test_ctrl_c_interrupts_a_server_wait(kind, method):
    # Uninterruptible, the wait would last the ten minutes: the child would
    # be killed at WAIT and the test fail.
    p = subprocess.run([sys.executable, "-c", CTRL_C_CHILD, kind, method], capture_output=True, text=True,
                       timeout=WAIT)
    assert p.stdout.strip() == "interrupted", p.stderr


def exchange(port, data, until=None):
    """Sends `data` on a new connection; reads until `until` has come, or
    to the end of the stream (bounded by WAIT)."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(data)
        got = b""
        while until is None or until not in got:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def test_http_noreply_from_a_later_callback_closes_the_connection():
    seen = []

    def process(task):
        uri = task.get_req().get_request_uri()
        task.get_resp().append_body(b"kept")

        def after_reply(t):
            # Too late: the reply was sent; nothing changes.
            t.noreply()
            seen.append((uri, t.get_state()))

        task.set_callback(after_reply)

        def later(timer):
            # process() has returned; the task is kept by this closure.
            if uri == "/drop":
                task.noreply()

        wf.series_of(task).push_back(wf.create_timer_task(1000, later))

    server = wf.HttpServer(process)
    assert server.start(socket.AF_INET, "127.0.0.1", 0) == 0
    port = server.get_listen_port()
    try:
        kept = exchange(port, b"GET /kept HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert kept.startswith(b"HTTP/1.1 200 OK") and kept.endswith(b"kept")
        assert exchange(port, b"GET /drop HTTP/1.1\r\nHost: x\r\n\r\n") == b"", "closed without a reply"
    finally:
        server.stop()
    assert sorted(seen) == [("/drop", wf.WFT_STATE_NOREPLY), ("/kept", wf.WFT_STATE_SUCCESS)]


def test_redis_noreply_from_a_later_callback_closes_the_connection():
    seen = []

    def process(task):
        cmd = task.get_req().get_command().upper()
        v = wf.RedisValue()
        v.set_status("PONG")
        task.get_resp().set_result(v)
        task.set_callback(lambda t: seen.append((cmd, t.get_state())))

        def later(timer):
            if cmd == "DROP":
                task.noreply()

        wf.series_of(task).push_back(wf.create_timer_task(1000, later))

    server = wf.RedisServer(process)
    assert server.start(socket.AF_INET, "127.0.0.1", 0) == 0
    port = server.get_listen_port()
    try:
        assert exchange(port, b"*1\r\n$4\r\nPING\r\n", until=b"\r\n") == b"+PONG\r\n"
        # A PING answered first, then DROP closes the connection unanswered.
        both = exchange(port, b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nDROP\r\n")
        assert both == b"+PONG\r\n", "the DROP got no reply and the connection closed"
    finally:
        server.stop()
    assert sorted(seen) == [("DROP", wf.WFT_STATE_NOREPLY), ("PING", wf.WFT_STATE_SUCCESS),
                            ("PING", wf.WFT_STATE_SUCCESS)]
