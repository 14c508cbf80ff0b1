"""Text crossing the binding: str arguments are read in place (any
str, ASCII or not; a lone surrogate raises as str.encode() does) and str
results are new objects; the echo tutorial's calls on a live server."""
import socket

import pytest

import pywf as wf
from conftest import WAIT


def test_str_arguments_ascii_non_ascii_and_surrogates():
    t = wf.create_http_task("http://127.0.0.1:1/", 0, 0, None)
    req = t.get_req()
    assert req.set_method("POST") and req.get_method() == "POST"
    req.set_request_uri("/a?b=c")
    assert req.get_request_uri() == "/a?b=c"
    assert req.add_header_pair("X-One", "1")
    assert req.add_header_pair("X-Two", "d\u00e9j\u00e0")  # obs-text, sent as UTF-8
    assert not req.add_header_pair("X-Bad", "a\r\nb")
    assert not req.add_header_pair("bad name", "v")
    assert req.set_header_pair("x-one", "2")
    assert [h for h in req.get_headers() if h[0].lower().startswith("x-")] == [("x-one", "2"), ("X-Two", "d\u00e9j\u00e0")]
    assert req.append_body("d\u00e9j\u00e0 ")
    assert req.append_body(b"vu")
    assert req.append_body("\U0001f30f")
    assert req.get_body() == "d\u00e9j\u00e0 vu\U0001f30f".encode()
    with pytest.raises(UnicodeEncodeError):
        req.append_body("\udc80")
    with pytest.raises(UnicodeEncodeError):
        req.add_header_pair("X-Three", "\ud800")
    with pytest.raises(TypeError):
        req.set_method(3)
    # What failed changed nothing.
    assert req.get_body() == "d\u00e9j\u00e0 vu\U0001f30f".encode()
    resp = t.get_resp()
    assert resp.set_http_version("HTTP/1.0") and resp.get_http_version() == "HTTP/1.0"
    assert not resp.set_http_version("HTTP/9")
    resp.set_reason_phrase("Tr\u00e8s bien")
    assert resp.get_reason_phrase() == "Tr\u00e8s bien"
    t.dismiss()


def test_many_small_body_appends_keep_their_order():
    t = wf.create_http_task("http://127.0.0.1:1/", 0, 0, None)
    req = t.get_req()
    parts = [("%d," % i) if i % 2 else ("%d," % i).encode() for i in range(3000)]
    for p in parts:
        req.append_body(p)
    want = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
    assert req.get_body() == want and req.get_body_size() == len(want)
    req.clear_body()
    assert req.get_body() == b""
    t.dismiss()


def test_echo_calls_on_a_live_server():
    def process(task):
        req, resp = task.get_req(), task.get_resp()
        resp.append_body("<p>{} {} {}</p>".format(req.get_method(), req.get_request_uri(), req.get_http_version()))
        for name, value in req.get_headers():
            resp.append_body("<p>{}: {}</p>".format(name, value))
        resp.set_status_code("201")
        resp.set_reason_phrase("Cr\u00e9\u00e9")
        resp.add_header_pair("Content-Type", "text/html")

    server = wf.HttpServer(process)
    assert server.start(socket.AF_INET, "127.0.0.1", 0) == 0
    got = []

    def cb(t):
        r = t.get_resp()
        got.append((t.get_state(), r.get_status_code(), r.get_body(), dict(r.get_headers())))

    t = wf.create_http_task("http://127.0.0.1:{}/x?y=%C3%A9".format(server.get_listen_port()), 0, 0, cb)
    t.get_req().add_header_pair("X-Echo", "yes")
    t.start()
    assert wf.wait_finish_timeout(WAIT)
    server.stop()
    [(state, code, body, headers)] = got
    assert (state, code) == (0, "201")
    assert body.startswith(b"<p>GET /x?y=%C3%A9 HTTP/1.1</p>")
    assert b"<p>X-Echo: yes</p>" in body
    assert headers["Content-Type"] == "text/html"
