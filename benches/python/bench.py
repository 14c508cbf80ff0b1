"""`cargo xtask bench python`: pywf (wf) vs pyworkflow 0.0.10 vs aiohttp,
each in its own interpreter, pinned with taskset, side by side in one run.

1. Tutorial 04's echo server (aiohttp: the same page) on CPU 0, wrk -t1
   -c100 on CPU 1: server CPU microseconds per request (utime + stime of
   the server over the run / requests) and requests per second.
2. 20,000 GETs with a Python callback each, 64 in flight, client on CPU 0,
   wf's hello-world server on CPU 1: requests per second and client CPU
   microseconds per request.

    python bench.py --pywf PY --pyworkflow PY --aiohttp PY --hello BIN [--seconds S] [--requests N]
"""
import argparse
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ECHO = os.path.join(ROOT, "pywf", "examples", "tutorial04-http_echo_server.py")
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("server exited with {}".format(proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("server did not listen on {}".format(port))


def cpu_seconds(pid):
    """utime + stime of a process and its threads, in seconds."""
    with open("/proc/{}/stat".format(pid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wrk(port, seconds):
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", "-c100", "-d{}s".format(seconds), "http://127.0.0.1:{}/".format(port)],
        capture_output=True, text=True, check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return requests, int(errors.group(1)) if errors else 0


def server_bench(name, cmd, seconds):
    port = free_port()
    env = dict(os.environ, PYWF_HOST="127.0.0.1")
    proc = subprocess.Popen(["taskset", "-c", "0", *cmd, str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        wrk(port, 1)  # warm-up
        before = cpu_seconds(proc.pid)
        requests, bad = wrk(port, seconds)
        cpu = cpu_seconds(proc.pid) - before
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if bad:
        sys.exit("{}: {} bad responses".format(name, bad))
    return {"name": name, "rps": requests / seconds, "cpu_us": cpu * 1e6 / requests, "requests": requests}


def client_bench(name, python, script, url, requests):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(["taskset", "-c", "0", python, os.path.join(HERE, script), url, str(requests), "64"],
                          stdout=subprocess.PIPE, text=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit("{}: client failed ({})".format(name, proc.returncode))
    ok, secs = proc.stdout.split()
    ok, secs = int(ok), float(secs)
    if ok != requests:
        sys.exit("{}: {} of {} requests succeeded".format(name, ok, requests))
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"name": name, "rps": requests / secs, "cpu_us": cpu * 1e6 / requests}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pywf", required=True)
    ap.add_argument("--pyworkflow", required=True)
    ap.add_argument("--aiohttp", required=True)
    ap.add_argument("--hello", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--requests", type=int, default=20000)
    a = ap.parse_args()

    print("== tutorial 04 echo server on CPU 0, wrk -t1 -c100 -d{}s on CPU 1".format(a.seconds))
    servers = [
        server_bench("pywf (wf)", [a.pywf, ECHO], a.seconds),
        server_bench("pyworkflow 0.0.10", [a.pyworkflow, ECHO], a.seconds),
        server_bench("aiohttp", [a.aiohttp, os.path.join(HERE, "echo_aiohttp.py")], a.seconds),
    ]
    print("| server | req/s | server CPU µs/req | vs pywf (CPU) |")
    print("|---|---|---|---|")
    for s in servers:
        print("| {} | {:,.0f} | {:.1f} | {:.2f}× |".format(
            s["name"], s["rps"], s["cpu_us"], s["cpu_us"] / servers[0]["cpu_us"]))

    print("\n== {:,} GETs, 64 in flight, a Python callback each; client on CPU 0, wf hello server on CPU 1".format(a.requests))
    port = free_port()
    hello = subprocess.Popen(["taskset", "-c", "1", a.hello, str(port)], stdout=subprocess.DEVNULL)
    try:
        wait_port(port, hello)
        url = "http://127.0.0.1:{}/".format(port)
        clients = [
            client_bench("pywf (wf)", a.pywf, "client_wf.py", url, a.requests),
            client_bench("pyworkflow 0.0.10", a.pyworkflow, "client_wf.py", url, a.requests),
            client_bench("aiohttp", a.aiohttp, "client_aiohttp.py", url, a.requests),
        ]
    finally:
        hello.send_signal(signal.SIGINT)
        hello.wait(timeout=30)
    print("| client | req/s | client CPU µs/req (whole process) | pywf's req/s vs it |")
    print("|---|---|---|---|")
    for c in clients:
        print("| {} | {:,.0f} | {:.1f} | {:.2f}× |".format(
            c["name"], c["rps"], c["cpu_us"], clients[0]["rps"] / c["rps"]))


if __name__ == "__main__":
    main()
