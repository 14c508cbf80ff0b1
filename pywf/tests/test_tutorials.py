"""The README flows and the tutorials, run with pyworkflow's command lines
against servers the tests start."""
import http.client
import os
import re
import socket

from conftest import Server, free_port, read_to_eof, run_example


def closed_port():
    # A port nothing listens on.
    return free_port()


def test_readme_one_request(echo_server):
    rc, out, _ = run_example("readme_flows.py", "one", echo_server.url + "/hello")
    assert rc == 0
    assert out.startswith("Http status:200\nb'<html>")
    assert "GET /hello HTTP/1.1" in out


def test_readme_series(echo_server):
    urls = [echo_server.url + p for p in ("/a", "/b", "/c")]
    rc, out, _ = run_example("readme_flows.py", "series", *urls)
    assert rc == 0
    assert out.splitlines() == [
        "uri:/a status:200",
        "uri:/b status:200",
        "uri:/c status:200",
        "All task in this series is done",
    ]


def test_readme_parallel(echo_server):
    urls = [echo_server.url + p for p in ("/x", "/y", "/z")]
    rc, out, _ = run_example("readme_flows.py", "parallel", *urls)
    assert rc == 0
    # The callbacks run side by side (on handler threads): their prints
    # may interleave, so match the lines anywhere.
    assert sorted(re.findall(r"uri:/. status:200", out)) == ["uri:/x status:200", "uri:/y status:200", "uri:/z status:200"]
    assert out.endswith("All series in this parallel is done\n")


def test_tutorial01_wget(echo_server):
    rc, out, _ = run_example("tutorial01-wget.py", "127.0.0.1:{}/abc".format(echo_server.port))
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "GET HTTP/1.1 /abc"
    assert lines[1:5] == [
        "Host: 127.0.0.1:{}".format(echo_server.port),
        "Accept: */*",
        "User-Agent: Wget/1.14 (linux-gnu)",
        "Connection: close",
    ]
    assert "HTTP/1.1 200 OK" in lines
    assert "Server: Sogou Python3 WFHttpServer" in lines
    assert lines[-1] == "body size:154 (ignore body for a clear output)"


def test_tutorial01_refused():
    rc, out, _ = run_example("tutorial01-wget.py", "http://127.0.0.1:{}/".format(closed_port()))
    assert rc == 0
    assert out.strip() == "state:1 error:111 errstr:Connection refused"


def test_tutorial02_redis_cli(redis_url):
    rc, out, _ = run_example("tutorial02-redis_cli.py", redis_url, "pywf-key", "myvalue")
    assert rc == 0
    assert out.splitlines() == [
        "Redis SET request success. Trying to GET...",
        "Redis GET success. Value = b'myvalue'",
        "Finish",
    ]


def test_tutorial02_refused():
    rc, out, _ = run_example("tutorial02-redis_cli.py", "127.0.0.1:{}".format(closed_port()), "k", "v")
    assert rc == 0
    assert out.startswith("state:1 error:111")


def test_tutorial03_wget_to_redis(echo_server, redis_url):
    url = echo_server.url + "/page"
    rc, out, _ = run_example("tutorial03-wget_to_redis.py", url, redis_url)
    assert rc == 0
    lines = out.splitlines()
    assert re.fullmatch(r"redis SET success: key: {}, value size: \d+".format(re.escape(url)), lines[0])
    assert lines[1:] == ["Series finished. all success"]


def test_tutorial03_default_https_fails(echo_server, redis_url):
    # No scheme means https://, and the echo server speaks plain HTTP.
    rc, out, _ = run_example("tutorial03-wget_to_redis.py", "127.0.0.1:{}/".format(echo_server.port), redis_url)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("http: state:")
    assert lines[-1] == "Series finished. failed"


def test_tutorial04_echo_and_close_after_ten(echo_server):
    conn = http.client.HTTPConnection("127.0.0.1", echo_server.port, timeout=30)
    for i in range(10):
        conn.request("GET", "/hello?x={}".format(i), headers={"X-Test": "abc"})
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200
        assert resp.getheader("Content-Type") == "text/html"
        assert resp.getheader("Server") == "Sogou Python3 WFHttpServer"
        assert "<p>GET /hello?x={} HTTP/1.1</p>".format(i).encode() in body
        assert b"<p>X-Test: abc</p>" in body
        assert resp.getheader("Connection") == ("close" if i == 9 else "Keep-Alive")
    conn.close()


def test_tutorial04_http10_gets_close(echo_server):
    with socket.create_connection(("127.0.0.1", echo_server.port), timeout=30) as s:
        s.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        data = read_to_eof(s)
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    assert b"connection: close" in head
    assert b"<p>GET /old HTTP/1.0</p>" in data


def test_tutorial04_stops_on_sigint(echo_server):
    rc, _, _ = echo_server.stop()
    assert rc == 0


def test_tutorial05_http_proxy(echo_server):
    proxy = Server("tutorial05-http_proxy.py")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
        conn.request("GET", echo_server.url + "/via")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200
        assert b"<p>GET /via HTTP/1.1</p>" in body
        dead = "http://127.0.0.1:{}/x".format(closed_port())
        conn.request("GET", dead)
        resp = conn.getresponse()
        assert resp.status == 404
        assert resp.read() == b"<html>404 Not Found.</html>"
        conn.close()
    finally:
        rc, out, _ = proxy.stop()
    assert rc == 0
    assert "{}/via Success, Http Status:200 Body Length:{}".format(echo_server.url, len(body)) in out
    assert "Fetch failed, state:1 error:111" in out


def test_tutorial06_parallel_wget(echo_server):
    refused = "127.0.0.1:{}/".format(closed_port())
    rc, out, _ = run_example(
        "tutorial06-parallel_wget.py", echo_server.url + "/a", refused, echo_server.url + "/b"
    )
    assert rc == 0
    assert out.splitlines() == [
        "url:{}/a chunked:False keep_alive:False status_code:200 http_version:HTTP/1.1".format(echo_server.url),
        "url:http://{} state:1 error:111".format(refused),
        "url:{}/b chunked:False keep_alive:False status_code:200 http_version:HTTP/1.1".format(echo_server.url),
    ]


def test_tutorial09_http_file_server(tmp_path):
    (tmp_path / "index.html").write_bytes(b"<html>index</html>")
    blob = os.urandom(100 * 1024)
    (tmp_path / "blob.bin").write_bytes(blob)
    server = Server("tutorial09-http_file_server.py", str(tmp_path))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for path, status, body in (
            ("/", 200, b"<html>index</html>"),
            ("/blob.bin?v=1", 200, blob),
            ("/missing", 404, b"<html>404 Not Found</html>"),
        ):
            conn.request("GET", path)
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (status, body)
        conn.close()
    finally:
        rc, _, _ = server.stop()
    assert rc == 0
