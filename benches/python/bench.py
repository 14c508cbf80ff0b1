"""`cargo xtask bench python`: pywf (wf) vs pyworkflow 0.0.10 vs aiohttp,
each in its own interpreter, pinned with taskset, side by side in one run,
with the same programs written in Rust on wf as the floor under pywf.

1. Tutorial 04's echo server (aiohttp: the same page; Rust: the
   http_echo_server example) on CPU 0, wrk -t1 -c100 on CPU 1: server CPU
   microseconds per request (utime + stime of the server over the run /
   requests, split into user and system) and requests per second.
2. 20,000 GETs with a callback each, 64 in flight, client on CPU 0, wf's
   hello-world server on CPU 1: requests per second and client CPU
   microseconds per request (Rust: benches' client_loop_wf, the same loop).

Every contestant runs once per round, rounds alternate them, and each
figure is the median of the rounds.

    python bench.py --pywf PY --pyworkflow PY --aiohttp PY --hello BIN
                    --echo-rust BIN --client-rust BIN [--seconds S]
                    [--requests N] [--rounds R]
"""
import argparse
import os
import re
import resource
import signal
import socket
import statistics
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
    """(utime, stime) of a process and its threads, in seconds."""
    with open("/proc/{}/stat".format(pid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


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
        u0, s0 = cpu_seconds(proc.pid)
        requests, bad = wrk(port, seconds)
        u1, s1 = cpu_seconds(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if bad:
        sys.exit("{}: {} bad responses".format(name, bad))
    user, sys_ = (u1 - u0) * 1e6 / requests, (s1 - s0) * 1e6 / requests
    return {"name": name, "rps": requests / seconds, "cpu_us": user + sys_, "user_us": user, "sys_us": sys_}


def client_bench(name, cmd, url, requests):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(["taskset", "-c", "0", *cmd, url, str(requests), "64"],
                          stdout=subprocess.PIPE, text=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit("{}: client failed ({})".format(name, proc.returncode))
    ok, secs = proc.stdout.split()
    ok, secs = int(ok), float(secs)
    if ok != requests:
        sys.exit("{}: {} of {} requests succeeded".format(name, ok, requests))
    user = (after.ru_utime - before.ru_utime) * 1e6 / requests
    sys_ = (after.ru_stime - before.ru_stime) * 1e6 / requests
    return {"name": name, "rps": requests / secs, "cpu_us": user + sys_, "user_us": user, "sys_us": sys_}


def medians(runs):
    """Per contestant (in first-round order), the median of each figure."""
    out = []
    for i, first in enumerate(runs[0]):
        fig = {"name": first["name"]}
        for key in ("rps", "cpu_us", "user_us", "sys_us"):
            fig[key] = statistics.median(r[i][key] for r in runs)
        out.append(fig)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pywf", required=True)
    ap.add_argument("--pyworkflow", required=True)
    ap.add_argument("--aiohttp", required=True)
    ap.add_argument("--hello", required=True)
    ap.add_argument("--echo-rust", required=True)
    ap.add_argument("--client-rust", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()

    print("== tutorial 04 echo server on CPU 0, wrk -t1 -c100 -d{}s on CPU 1, median of {} rounds".format(
        a.seconds, a.rounds))
    contestants = [
        ("pywf (wf)", [a.pywf, ECHO]),
        ("pyworkflow 0.0.10", [a.pyworkflow, ECHO]),
        ("aiohttp", [a.aiohttp, os.path.join(HERE, "echo_aiohttp.py")]),
        ("wf in Rust (floor)", [a.echo_rust]),
    ]
    servers = medians([[server_bench(n, c, a.seconds) for n, c in contestants] for _ in range(a.rounds)])
    print("| server | req/s | server CPU µs/req | user | sys | vs pywf (CPU) |")
    print("|---|---|---|---|---|---|")
    for s in servers:
        print("| {} | {:,.0f} | {:.1f} | {:.1f} | {:.1f} | {:.2f}× |".format(
            s["name"], s["rps"], s["cpu_us"], s["user_us"], s["sys_us"], s["cpu_us"] / servers[0]["cpu_us"]))
    pywf, pyworkflow, aiohttp, floor = servers
    print("goal: echo CPU/req pywf/pyworkflow {:.2f} (<= 0.50), pywf/aiohttp {:.2f} (<= 0.50); "
          "the Rust floor is {:.2f} of pyworkflow's".format(
              pywf["cpu_us"] / pyworkflow["cpu_us"], pywf["cpu_us"] / aiohttp["cpu_us"],
              floor["cpu_us"] / pyworkflow["cpu_us"]))

    print("\n== {:,} GETs, 64 in flight, a callback each; client on CPU 0, wf hello server on CPU 1, "
          "median of {} rounds".format(a.requests, a.rounds))
    port = free_port()
    hello = subprocess.Popen(["taskset", "-c", "1", a.hello, str(port)], stdout=subprocess.DEVNULL)
    try:
        wait_port(port, hello)
        url = "http://127.0.0.1:{}/".format(port)
        contestants = [
            ("pywf (wf)", [a.pywf, os.path.join(HERE, "client_wf.py")]),
            ("pyworkflow 0.0.10", [a.pyworkflow, os.path.join(HERE, "client_wf.py")]),
            ("aiohttp", [a.aiohttp, os.path.join(HERE, "client_aiohttp.py")]),
            ("wf in Rust (floor)", [a.client_rust]),
        ]
        clients = medians([[client_bench(n, c, url, a.requests) for n, c in contestants] for _ in range(a.rounds)])
    finally:
        hello.send_signal(signal.SIGINT)
        hello.wait(timeout=30)
    print("| client | req/s | client CPU µs/req (whole process) | user | sys | pywf's req/s vs it |")
    print("|---|---|---|---|---|---|")
    for c in clients:
        print("| {} | {:,.0f} | {:.1f} | {:.1f} | {:.1f} | {:.2f}× |".format(
            c["name"], c["rps"], c["cpu_us"], c["user_us"], c["sys_us"], clients[0]["rps"] / c["rps"]))
    pywf, pyworkflow, aiohttp, floor = clients
    print("goal: client req/s pywf/pyworkflow {:.2f} (>= 2.00), pywf/aiohttp {:.2f} (>= 2.00); "
          "the Rust floor is {:.2f}x pyworkflow's".format(
              pywf["rps"] / pyworkflow["rps"], pywf["rps"] / aiohttp["rps"], floor["rps"] / pyworkflow["rps"]))


if __name__ == "__main__":
    main()
