"""Fixtures: local servers the tests start themselves (never a service
already running on the machine), and a runner for the example scripts."""
import os
import shutil
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
# Every wait on a child process or a server is bounded by this.
WAIT = 60


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_to_eof(sock):
    """Everything `sock` receives until the peer closes."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def example(name):
    return os.path.join(EXAMPLES, name)


def run_example(name, *args, stdin=None):
    """Runs an example to its end; returns (exit code, stdout, stderr)."""
    p = subprocess.run(
        [sys.executable, example(name), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    return p.returncode, p.stdout, p.stderr


class Server:
    """An example server run as a child on 127.0.0.1."""

    def __init__(self, name, *args):
        self.port = free_port()
        env = dict(os.environ, PYWF_HOST="127.0.0.1")
        self.proc = subprocess.Popen(
            [sys.executable, example(name), str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        ready = select.select([self.proc.stdout], [], [], WAIT)[0]
        line = self.proc.stdout.readline() if ready else ""
        assert line.startswith("listening on"), "server did not start: {!r} {}".format(line, self.proc.stderr.read())
        self.url = "http://127.0.0.1:{}".format(self.port)

    def stop(self):
        """SIGINT, as Ctrl-C; returns (exit code, rest of stdout)."""
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=WAIT)
        return self.proc.returncode, out, err


@pytest.fixture
def echo_server():
    s = Server("tutorial04-http_echo_server.py")
    yield s
    if s.proc.poll() is None:
        s.stop()


class TlsFiles:
    """PEM files: a CA (``ca``), and a server certificate it signed for
    localhost and 127.0.0.1 (``cert``) with its key (``key``)."""

    def __init__(self, d):
        self.ca, self.cert, self.key = (os.path.join(d, n) for n in ("ca.pem", "cert.pem", "key.pem"))


@pytest.fixture(scope="session")
def tls_files():
    """The certificates `cargo xtask pytest` makes with testkit's Pki, in
    the directory PYWF_TEST_TLS_DIR names (`cargo run -p testkit --example
    pki -- DIR` makes them too)."""
    d = os.environ.get("PYWF_TEST_TLS_DIR")
    if not d:
        pytest.fail("PYWF_TEST_TLS_DIR is not set: run the suite with `cargo xtask pytest`, which makes the "
                    "certificates (or `cargo run -p testkit --example pki -- DIR` and set it to DIR)")
    files = TlsFiles(d)
    for f in (files.ca, files.cert, files.key):
        if not os.path.isfile(f):
            pytest.fail("{} is missing (PYWF_TEST_TLS_DIR={})".format(f, d))
    return files


def _find(binary):
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/usr/local/sbin", "/usr/bin"]:
        p = os.path.join(d, binary)
        if os.access(p, os.X_OK):
            return p
    return None


def _wait_port(port, proc, what):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("{} exited with {}".format(what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("{} did not listen".format(what))


@pytest.fixture(scope="session")
def redis_url():
    """A redis-server of our own on a free port of 127.0.0.1."""
    binary = _find("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (cargo xtask test installs it)")
    port = free_port()
    d = tempfile.mkdtemp(prefix="pywf-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", d],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc, "redis-server")
        yield "redis://127.0.0.1:{}/".format(port)
    finally:
        proc.terminate()
        proc.wait(timeout=WAIT)
        shutil.rmtree(d, ignore_errors=True)


MARIADB_SETUP = """\
FLUSH PRIVILEGES;
CREATE DATABASE pywf_test;
CREATE USER 'pywf'@'%' IDENTIFIED BY 'pywf_pass';
GRANT ALL ON *.* TO 'pywf'@'%' WITH GRANT OPTION;
"""


@pytest.fixture(scope="session")
def mysql_url(tls_files):
    """A MariaDB of our own (its own data directory) on a free port of
    127.0.0.1, with database pywf_test and user pywf; it also speaks TLS
    (mysqls://) with the certificate of ``tls_files``."""
    server = _find("mariadbd") or _find("mysqld")
    install = _find("mariadb-install-db") or _find("mysql_install_db")
    if server is None or install is None:
        pytest.fail("MariaDB is not installed (cargo xtask test installs it)")
    d = tempfile.mkdtemp(prefix="pywf-mariadb-")
    small = ["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M", "--skip-name-resolve"]
    user = ["--user=root"] if os.geteuid() == 0 else []
    with open(os.path.join(d, "setup.sql"), "w") as f:
        f.write(MARIADB_SETUP)
    os.mkdir(os.path.join(d, "tmp"))
    basedir = os.path.dirname(os.path.dirname(install))
    subprocess.run(
        [install, "--no-defaults", "--datadir=" + os.path.join(d, "data"), "--basedir=" + basedir,
         "--tmpdir=" + os.path.join(d, "tmp"), "--extra-file=" + os.path.join(d, "setup.sql"),
         "--auth-root-authentication-method=normal", "--skip-test-db", *small, *user],
        check=True, capture_output=True, timeout=WAIT * 3,
    )
    port = free_port()
    proc = subprocess.Popen(
        [server, "--no-defaults", *user, "--datadir=" + os.path.join(d, "data"),
         "--socket=" + os.path.join(d, "mysqld.sock"), "--pid-file=" + os.path.join(d, "mysqld.pid"),
         "--tmpdir=" + os.path.join(d, "tmp"), "--log-error=" + os.path.join(d, "err.log"),
         "--port={}".format(port), "--bind-address=127.0.0.1",
         "--ssl-cert=" + tls_files.cert, "--ssl-key=" + tls_files.key, *small],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc, "mariadbd")
        yield "mysql://pywf:pywf_pass@127.0.0.1:{}/pywf_test".format(port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)
