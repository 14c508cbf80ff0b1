"""TLS: servers started with a certificate and key, and https://,
rediss:// and mysqls:// clients, with the certificates `cargo xtask
pytest` makes (the `tls_files` fixture). wf verifies a server's
certificate (pyworkflow does not): a client that trusts the test CA runs
in a child process with SSL_CERT_FILE naming it."""
import ast
import os
import socket
import ssl
import subprocess
import sys
import textwrap

import pywf as wf
from conftest import WAIT, read_to_eof


def test_https_server_with_cert_and_key(tls_files):
    server = wf.HttpServer(lambda t: t.get_resp().append_body(b"secure"))
    assert server.start(socket.AF_INET, "127.0.0.1", 0, tls_files.cert, tls_files.key) == 0
    try:
        ctx = ssl.create_default_context(cafile=tls_files.ca)
        with socket.create_connection(("127.0.0.1", server.get_listen_port()), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = read_to_eof(s)
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"secure")
    finally:
        server.stop()
    # A port in use: -1, as pyworkflow.
    busy = wf.HttpServer(lambda t: None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert busy.start(socket.AF_INET, "127.0.0.1", s.getsockname()[1]) == -1


def run_trusting(ca, code, *args):
    """Runs `code` in a child that trusts only `ca`; what it prints, read
    as a Python literal."""
    env = dict(os.environ, SSL_CERT_FILE=ca)
    env.pop("SSL_CERT_DIR", None)
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                       timeout=WAIT, env=env)
    assert p.returncode == 0, p.stderr
    return ast.literal_eval(p.stdout.strip())


HTTPS_REDISS_CLIENTS = """
    import socket, sys
    import pywf as wf

    cert, key = sys.argv[1], sys.argv[2]
    out = {}

    def on_redis(task):
        v = wf.RedisValue()
        v.set_status("PONG " + task.get_req().get_command())
        task.get_resp().set_result(v)

    https = wf.HttpServer(lambda t: t.get_resp().append_body(b"over https"))
    rediss = wf.RedisServer(on_redis)
    assert https.start(socket.AF_INET, "127.0.0.1", 0, cert, key) == 0
    assert rediss.start(socket.AF_INET, "127.0.0.1", 0, cert, key) == 0

    def http_cb(t):
        out["https"] = (t.get_state(), t.get_error(), t.get_resp().get_body())

    def redis_cb(t):
        out["rediss"] = (t.get_state(), t.get_error(), t.get_resp().get_result().as_object())

    wf.create_http_task("https://127.0.0.1:{}/".format(https.get_listen_port()), 0, 0, http_cb).start()
    t = wf.create_redis_task("rediss://127.0.0.1:{}/".format(rediss.get_listen_port()), 0, redis_cb)
    t.get_req().set_request("PING", [])
    t.start()
    assert wf.wait_finish_timeout(60)
    https.stop()
    rediss.stop()
    print(repr(out))
"""


def test_https_and_rediss_clients_against_tls_servers(tls_files):
    out = run_trusting(tls_files.ca, HTTPS_REDISS_CLIENTS, tls_files.cert, tls_files.key)
    assert out == {"https": (0, 0, b"over https"), "rediss": (0, 0, b"PONG PING")}


def test_a_client_not_trusting_the_ca_fails_with_ssl_error(tls_files):
    # This process trusts the system's roots only, where the test CA is not.
    def on_redis(task):
        v = wf.RedisValue()
        v.set_status("unseen")
        task.get_resp().set_result(v)

    https = wf.HttpServer(lambda t: t.get_resp().append_body(b"unseen"))
    rediss = wf.RedisServer(on_redis)
    assert https.start(socket.AF_INET, "127.0.0.1", 0, tls_files.cert, tls_files.key) == 0
    assert rediss.start(socket.AF_INET, "127.0.0.1", 0, tls_files.cert, tls_files.key) == 0
    out = {}
    try:
        url = "https://127.0.0.1:{}/".format(https.get_listen_port())
        wf.create_http_task(url, 0, 0, lambda t: out.update(https=(t.get_state(), t.get_resp().get_body()))).start()
        url = "rediss://127.0.0.1:{}/".format(rediss.get_listen_port())
        t = wf.create_redis_task(url, 0, lambda t: out.update(rediss=t.get_state()))
        t.get_req().set_request("PING", [])
        t.start()
        assert wf.wait_finish_timeout(WAIT)
    finally:
        https.stop()
        rediss.stop()
    assert out == {"https": (wf.WFT_STATE_SSL_ERROR, b""), "rediss": wf.WFT_STATE_SSL_ERROR}


MYSQLS_CLIENT = """
    import sys
    import pywf as wf

    out = {}

    def cb(t):
        cursor = wf.MySQLResultCursor(t.get_resp())
        row = cursor.fetch_row()
        out[t.get_req().get_query().decode()] = (t.get_state(), t.get_error(), [c.as_object() for c in row or []])

    for url in sys.argv[1:]:
        t = wf.create_mysql_task(url, 0, cb)
        t.get_req().set_query("SHOW SESSION STATUS LIKE 'Ssl_version' -- " + url.split(":")[0])
        t.start()
    assert wf.wait_finish_timeout(60)
    print(repr(out))
"""


def test_mysqls_client(tls_files, mysql_url):
    """mysqls:// against the suite's MariaDB, which has the test
    certificate: the session is encrypted (mysql:// is not). wf's own
    MySQLServer cannot be the server here: it refuses MySQL's in-protocol
    TLS upgrade (the SSL request), which mysqls:// uses."""
    mysqls_url = "mysqls://" + mysql_url[len("mysql://"):]
    out = run_trusting(tls_files.ca, MYSQLS_CLIENT, mysqls_url, mysql_url)
    q = "SHOW SESSION STATUS LIKE 'Ssl_version' -- "
    state, error, row = out[q + "mysqls"]
    assert (state, error) == (0, 0)
    assert row[0] == b"Ssl_version" and row[1].startswith(b"TLSv1."), row
    assert out[q + "mysql"] == (0, 0, [b"Ssl_version", b""])
