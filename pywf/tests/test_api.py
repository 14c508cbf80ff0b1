"""The API itself: flows, tasks, safety after the callback, exceptions
in callbacks, threads and the GIL."""
import copy
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

import pywf as wf
from conftest import WAIT


def finish():
    assert wf.wait_finish_timeout(WAIT)


def test_constants_and_error_strings():
    assert (wf.WFT_STATE_SUCCESS, wf.WFT_STATE_SYS_ERROR, wf.WFT_STATE_TASK_ERROR) == (0, 1, 67)
    assert (wf.WFT_STATE_TOREPLY, wf.WFT_STATE_NOREPLY, wf.WFT_STATE_SSL_ERROR, wf.WFT_STATE_DNS_ERROR) == (3, 4, 65, 66)
    assert wf.TOR_TRANSMIT_TIMEOUT == 3
    assert wf.get_error_string(1, 111) == "Connection refused"
    assert wf.get_error_string(67, 1002) == "URI Scheme Invalid"
    assert wf.get_error_string(0, 0) == "Success"


def test_series_order_push_front_back_and_last():
    seen = []

    def step(name, push=None):
        def cb(t):
            seen.append(name)
            if push:
                push(wf.series_of(t))
        return cb

    def first_cb(s):
        s.push_back(wf.create_timer_task(0, step("back")))
        s.push_front(wf.create_timer_task(0, step("front")))

    first = wf.create_timer_task(0, step("first", first_cb))
    last = wf.create_timer_task(0, step("last"))
    done = []
    s = wf.create_series_work(first, last, lambda s: done.append(s.is_canceled()))
    s << wf.create_empty_task()
    s.start()
    finish()
    assert seen == ["first", "front", "back", "last"]
    assert done == [False]


def test_series_cancel_and_context():
    seen = []

    def cb(t):
        s = wf.series_of(t)
        assert s.get_context() == {"n": 1}
        s.cancel()

    s = wf.create_series_work(wf.create_timer_task(0, cb), lambda s: seen.append((s.is_canceled(), s.get_context())))
    s.push_back(wf.create_timer_task(0, lambda t: seen.append("must not run")))
    s.set_context({"n": 1})
    s.start()
    finish()
    assert seen == [(True, {"n": 1})]


def test_parallel_series_contexts_in_order():
    out = []

    def pcb(p):
        out.extend(p.series_at(i).get_context() for i in range(p.size()))
        with pytest.raises(IndexError):
            p.series_at(p.size())

    p = wf.create_parallel_work(pcb)
    for i in range(5):
        s = wf.create_series_work(wf.create_timer_task(1000 * (5 - i), None), None)
        s.set_context(i)
        p = p * s
    wf.start_series_work(p, None)
    finish()
    assert out == [0, 1, 2, 3, 4]


def test_use_after_callback_raises():
    kept = {}

    def cb(t):
        kept["task"] = t
        kept["series"] = wf.series_of(t)
        assert not t.is_null()

    t = wf.create_timer_task(0, cb)
    t.start()
    finish()
    assert kept["task"].is_null()
    with pytest.raises(wf.InvalidHandleError):
        kept["task"].get_state()
    with pytest.raises(wf.InvalidHandleError):
        kept["series"].push_back(wf.create_empty_task())
    # A started task belongs to wf: starting it again raises too.
    with pytest.raises(wf.InvalidHandleError):
        t.start()
    assert isinstance(t, wf.WFBase) and isinstance(t, wf.SubTask)


def test_http_objects_after_callback_raise(tmp_path):
    kept = []

    def process(task):
        task.get_resp().append_body(b"hi")

    server = wf.HttpServer(process)
    assert server.start(socket.AF_INET, "127.0.0.1", 0) == 0
    url = "http://127.0.0.1:{}/".format(server.get_listen_port())

    def cb(t):
        kept.extend([t.get_req(), t.get_resp()])
        assert t.get_resp().get_body() == b"hi"
        assert t.get_resp().get_size_limit() == 1 << 20

    t = wf.create_http_task(url, 0, 0, cb)
    assert t.get_req().get_size_limit() == 2**64 - 1
    t.get_resp().set_size_limit(1 << 20)
    t.start()
    finish()
    server.stop()
    for obj in kept:
        assert obj.is_null()
        with pytest.raises(wf.InvalidHandleError):
            obj.get_body()


def test_dismiss_runs_no_callback():
    ran = []
    t = wf.create_timer_task(0, lambda t: ran.append(1))
    t.dismiss()
    s = wf.create_series_work(wf.create_timer_task(0, lambda t: ran.append(2)), lambda s: ran.append(3))
    s.dismiss()
    finish()
    assert ran == []


def test_exception_in_callback_is_reported_and_series_goes_on(monkeypatch):
    reports, seen = [], []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reports.append(u.exc_value))

    def boom(t):
        raise ValueError("boom")

    s = wf.create_series_work(wf.create_timer_task(0, boom), lambda s: seen.append("series"))
    s.push_back(wf.create_timer_task(0, lambda t: seen.append("next")))
    s.start()
    g = wf.create_go_task(lambda: 1 / 0)
    g.set_callback(lambda t: seen.append(("go", t.get_state())))
    g.start()
    finish()
    assert sorted(map(str, seen)) == sorted(["next", "series", "('go', 0)"])
    assert sorted(type(e).__name__ for e in reports) == ["ValueError", "ZeroDivisionError"]


def test_go_task_runs_on_compute_thread_with_args():
    out = []
    main = threading.get_ident()

    def work(a, b, c=None):
        out.append((a, b, c, threading.get_ident() != main))

    g = wf.create_go_task(work, 1, "pywf", c=3.1415926)
    g.set_user_data({"key": "value"})
    g.set_callback(lambda t: out.append(t.get_user_data()))
    g.start()
    wf.create_go_task("named-queue", work, 2, "q").start()
    finish()
    assert (1, "pywf", 3.1415926, True) in out
    assert (2, "q", None, True) in out
    assert {"key": "value"} in out


def test_callbacks_run_off_the_main_thread():
    ids = []
    wf.create_timer_task(0, lambda t: ids.append(threading.get_ident())).start()
    finish()
    assert ids and ids[0] != threading.get_ident()


def test_counter_by_name_and_count():
    done = []
    c = wf.create_counter_task("pywf-counter", 2, lambda t: done.append(t.get_state()))
    c.count()
    c.start()
    wf.count_by_name("pywf-counter", 1)
    wf.create_counter_task(0, lambda t: done.append("zero")).start()
    finish()
    assert sorted(map(str, done)) == ["0", "zero"]


def test_dynamic_task_runs_what_creater_returns():
    out = []

    def creater(d):
        return wf.create_timer_task(0, lambda t: out.append("made"))

    wf.create_dynamic_task(creater).start()
    finish()
    assert out == ["made"]


def test_wait_group_across_threads():
    wg = wf.WaitGroup(2)
    for _ in range(2):
        wf.create_go_task(wg.done).start()
    assert wg.wait_timeout(WAIT)
    assert wf.WaitGroup(1).wait_timeout(0.01) is False
    finish()


def test_wait_finish_timeout_false_while_running():
    c = wf.create_counter_task(1, None)
    h = c
    c.start()
    assert wf.wait_finish_timeout(0.05) is False
    h.count()
    finish()


def test_settings_defaults():
    s = wf.get_global_settings()
    assert (s.handler_threads, s.compute_threads, s.dns_threads) == (4, 4, 4)
    # One poller (event loop) per CPU this process may use (pyworkflow: 4).
    assert 1 <= s.poller_threads <= len(os.sched_getaffinity(0))
    assert s.endpoint_params.max_connections == 200
    p = wf.ServerParams()
    assert (p.max_connections, p.keep_alive_timeout) == (2000, 60000)


def test_settings_read_then_changed_before_start():
    # pyworkflow's pattern: read the settings, change them, then init.
    # Reading must not start wf with the defaults.
    code = textwrap.dedent("""
        import threading, warnings, pywf as wf
        warnings.simplefilter("error")
        s = wf.get_global_settings()
        assert (s.compute_threads, s.handler_threads) == (4, 4)
        s.compute_threads, s.handler_threads = 2, 1
        wf.WORKFLOW_library_init(s)
        now = wf.get_global_settings()
        assert (now.compute_threads, now.handler_threads) == (2, 1), (now.compute_threads, now.handler_threads)
        names = set()
        wg = wf.WaitGroup(1)
        def cb(t):
            names.add(threading.current_thread().name)
            wg.done()
        wf.create_timer_task(0, cb).start()
        assert wg.wait_timeout(60)
        try:
            wf.WORKFLOW_library_init(wf.get_global_settings())
        except RuntimeWarning:
            print("ok", flush=True)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT)
    assert p.stdout.strip() == "ok", p.stderr


def test_redis_value_model():
    v = wf.RedisValue()
    v.set_array(3)
    v[1].set_array(2)
    v[1][0].set_int(1)
    v[1][1].set_string("value")
    v[2].set_string(b"string")
    assert v.as_object() == [None, [1, b"value"], b"string"]
    assert v.debug_string() == b'[nil, [1, "value"], "string"]'
    d = copy.deepcopy(v)
    v[2].set_int(7)
    assert d.as_object() == [None, [1, b"value"], b"string"]
    assert v.arr_at(2).int_value() == 7
    assert v.arr_at(9) is None
    ok = wf.RedisValue()
    ok.set_status("OK")
    assert ok.is_string() and ok.is_ok() and not ok.is_error()


def test_file_tasks(tmp_path):
    path = str(tmp_path / "f")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    out = {}

    def on_write(t):
        out["w"] = t.get_retval()
        r = wf.create_pread_task(t.get_fd(), 100, 0, lambda r: out.update(r=(r.get_retval(), r.get_data())))
        wf.series_of(t) << r << wf.create_fsync_task(t.get_fd(), lambda s: out.update(s=s.get_state()))

    wf.create_pwrite_task(fd, b"hello, world!!", 5, 0, on_write).start()
    finish()
    os.close(fd)
    # A short read gives the bytes read, never the rest of the buffer.
    assert out == {"w": 5, "r": (5, b"hello"), "s": 0}


def test_server_delayed_reply_noreply_and_post_reply_callback():
    after = []

    def process(task):
        uri = task.get_req().get_request_uri()
        resp = task.get_resp()
        if uri == "/none":
            task.noreply()
            return
        task.set_callback(lambda t: after.append((uri, t.get_state())))
        if uri == "/later":
            def fill(t):
                resp.append_body(b"delayed")
            wf.series_of(task).push_back(wf.create_timer_task(1000, fill))
        elif uri == "/404":
            resp.set_status_code("404")

    server = wf.HttpServer(process)
    assert server.start(socket.AF_INET, "127.0.0.1", 0) == 0
    base = "http://127.0.0.1:{}".format(server.get_listen_port())
    got = {}

    def cb(t):
        r = t.get_resp()
        got[t.get_req().get_request_uri()] = (t.get_state(), r.get_status_code(), r.get_reason_phrase(), r.get_body())

    for p in ("/later", "/404", "/none"):
        wf.create_http_task(base + p, 0, 0, cb).start()
    finish()
    server.stop()
    assert got["/later"] == (0, "200", "OK", b"delayed")
    assert got["/404"] == (0, "404", "Not Found", b"")
    assert got["/none"][0] != 0
    assert sorted(after) == [("/404", 0), ("/later", 0)]


def test_slow_callback_does_not_stall_other_connections():
    release = threading.Event()

    def process(task):
        if task.get_req().get_request_uri() == "/slow":
            release.wait(WAIT)  # a blocking callback (releases the GIL while it waits)

    server = wf.HttpServer(process)
    assert server.start(socket.AF_INET, "127.0.0.1", 0) == 0
    base = "http://127.0.0.1:{}".format(server.get_listen_port())
    order = []
    wf.create_http_task(base + "/slow", 0, 0, lambda t: order.append("slow")).start()

    def fast(t):
        order.append("fast")
        release.set()

    wf.create_http_task(base + "/fast", 0, 0, fast).start()
    finish()
    server.stop()
    assert order == ["fast", "slow"]


def test_redis_server_and_client():
    def process(task):
        v = wf.RedisValue()
        if task.get_req().get_command().upper() == "PING":
            v.set_status("PONG")
        else:
            v.set_error("ERR unknown command")
        task.get_resp().set_result(v)

    server = wf.RedisServer(process)
    assert server.start(socket.AF_INET, "127.0.0.1", 0) == 0
    url = "redis://127.0.0.1:{}/".format(server.get_listen_port())
    got = []
    for cmd in ("PING", "NOPE"):
        t = wf.create_redis_task(url, 0, lambda t: got.append((t.get_req().get_command(), t.get_resp().get_result().as_object())))
        t.get_req().set_request(cmd, [])
        t.start()
    finish()
    server.stop()
    assert sorted(got) == [("NOPE", b"ERR unknown command"), ("PING", b"PONG")]


def test_ctrl_c_interrupts_wait_finish():
    code = textwrap.dedent("""
        import os, signal, threading, pywf as wf
        wf.create_timer_task(600 * 1000 * 1000, None).start()
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            wf.wait_finish()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            os._exit(0)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT)
    assert p.stdout.strip() == "interrupted", p.stderr


def read_head(conn):
    """Reads up to the end of an HTTP head; its lines."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(1)  # byte by byte: nothing past the head is taken
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n\r\n")[0].decode().split("\r\n")


def proxy_server(answer_connect):
    """A proxy on 127.0.0.1 for one connection: it records the CONNECT
    request, answers it with `answer_connect` and, when that is a 200,
    records the request that comes through the tunnel and answers it.
    Returns (its URL with user:secret, the heads it saw, its thread)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(WAIT)
    heads = []

    def serve():
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(WAIT)
                heads.append(read_head(conn))
                conn.sendall(answer_connect)
                if answer_connect.startswith(b"HTTP/1.1 200"):
                    heads.append(read_head(conn))
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nproxied")

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    return "http://user:secret@127.0.0.1:{}/".format(listener.getsockname()[1]), heads, th


def test_http_task_through_a_proxy():
    """create_http_task(url, proxy_url, redirect_max, retry_max, callback):
    as C++ Workflow, the task opens a CONNECT tunnel to the origin through
    the proxy (for http:// targets too), with the proxy URL's user as
    Proxy-Authorization, then sends its request through it; the origin's
    answer reaches the callback. The origin's name is never resolved here:
    the proxy is asked for it."""
    proxy_url, heads, th = proxy_server(b"HTTP/1.1 200 Connection established\r\n\r\n")
    out = {}

    def cb(t):
        r = t.get_resp()
        out.update(state=(t.get_state(), t.get_error()), status=r.get_status_code(), body=r.get_body())

    wf.create_http_task("http://origin.invalid:8080/path?q=1", proxy_url, 0, 0, cb).start()
    finish()
    th.join(WAIT)
    connect, tunneled = heads
    assert connect[0] == "CONNECT origin.invalid:8080 HTTP/1.1"
    assert "Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=" in connect[1:]  # user:secret
    assert tunneled[0] == "GET /path?q=1 HTTP/1.1"
    assert "Host: origin.invalid:8080" in tunneled[1:]
    assert not any(h.lower().startswith("proxy-authorization") for h in tunneled), "the origin never sees it"
    assert out == {"state": (0, 0), "status": "200", "body": b"proxied"}


def test_http_task_through_a_proxy_refusing_connect():
    proxy_url, heads, th = proxy_server(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    out = {}
    wf.create_http_task("http://origin.invalid/", proxy_url, 0, 0,
                        lambda t: out.update(state=(t.get_state(), t.get_error()))).start()
    finish()
    th.join(WAIT)
    assert heads[0][0] == "CONNECT origin.invalid:80 HTTP/1.1"
    assert out == {"state": (wf.WFT_STATE_TASK_ERROR, 2002)}, "HTTP_PROXY_CONNECT_FAILED"


def test_pwritev_fdsync_then_pread(tmp_path):
    path = str(tmp_path / "v")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    out = {}

    def on_read(t):
        out["read"] = (t.get_retval(), t.get_data())

    def on_sync(t):
        out["sync"] = (t.get_state(), t.get_retval(), t.get_fd())
        wf.series_of(t) << wf.create_pread_task(fd, 100, 0, on_read)

    def on_write(t):
        out["write"] = (t.get_state(), t.get_retval(), t.get_offset(), t.get_data())
        wf.series_of(t) << wf.create_fdsync_task(fd, on_sync)

    bufs = [b"hello, ", b"", b"vectored", b" world"]
    wf.create_pwritev_task(fd, bufs, 3, on_write).start()
    finish()
    try:
        on_disk = os.pread(fd, 100, 0)
    finally:
        os.close(fd)
    assert out["write"] == (0, 21, 3, bufs)
    assert out["sync"] == (0, 0, fd)
    # The three bytes before the offset were never written: zeros.
    assert out["read"] == (24, b"\0\0\0hello, vectored world")
    assert on_disk == b"\0\0\0hello, vectored world"
