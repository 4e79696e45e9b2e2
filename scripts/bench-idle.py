#!/usr/bin/env python3
"""Startup time, idle memory and memory with many idle SSE sessions.

    scripts/bench-idle.py [--gateway target/release/supergateway]
                          [--server target/release/examples/fixture-server]
                          [--sessions 1000] [--runs 5]

What it measures (each run starts a fresh gateway on a free loopback port):
- startup: from spawning the gateway to the first accepted TCP connection (a
  connect() retried in a tight loop), the median of --runs runs;
- idle RSS: VmRSS of the gateway process alone and of its process tree (the
  gateway plus the stdio server it started), 1 s after it listens;
- sessions RSS: the same after --sessions SSE streams are open and have each
  received their `endpoint` event, then 1 s of quiet; and VmHWM (peak).

The gateway's own figures are what the gateway costs; the tree adds the stdio
server, which is the same process without a gateway. Prints a Markdown table.
Needs `ulimit -n` above --sessions + 64 (raised here when the hard limit allows).
"""

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid):
    pids = [pid]
    i = 0
    while i < len(pids):
        try:
            with open(f"/proc/{pids[i]}/task/{pids[i]}/children") as f:
                pids.extend(int(p) for p in f.read().split())
        except OSError:
            pass
        i += 1
    return pids


def start(gateway, server, port):
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [gateway, "--stdio", server, "--port", str(port), "--logLevel", "none",
         "--maxSessions", "100000", "--keepAlive", "0"],
        stdin=subprocess.DEVNULL,
    )
    deadline = t0 + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, (time.perf_counter() - t0) * 1000
        except OSError:
            if time.perf_counter() > deadline or proc.poll() is not None:
                proc.kill()
                sys.exit(f"gateway did not listen on {port}")


def open_sse(port, count):
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        socks.append(s)
    for s in socks:
        s.settimeout(10)
        got = b""
        while b"event: endpoint" not in got:
            chunk = s.recv(4096)
            if not chunk:
                sys.exit("an SSE stream closed before its endpoint event")
            got += chunk
    return socks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateway", default="target/release/supergateway")
    ap.add_argument("--server", default="target/release/examples/fixture-server")
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.sessions + 64
    if soft < want and (hard == resource.RLIM_INFINITY or hard >= want):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    startups = []
    for _ in range(args.runs):
        proc, ms = start(args.gateway, args.server, free_port())
        startups.append(ms)
        proc.terminate()
        proc.wait()

    port = free_port()
    proc, _ = start(args.gateway, args.server, port)
    time.sleep(1)
    idle_gw = status_kib(proc.pid, "VmRSS")
    idle_tree = sum(status_kib(p, "VmRSS") for p in tree(proc.pid))
    socks = open_sse(port, args.sessions)
    time.sleep(1)
    busy_gw = status_kib(proc.pid, "VmRSS")
    busy_tree = sum(status_kib(p, "VmRSS") for p in tree(proc.pid))
    hwm_gw = status_kib(proc.pid, "VmHWM")
    for s in socks:
        s.close()
    proc.terminate()
    proc.wait()

    mib = lambda kib: f"{kib / 1024:.1f}"
    print(f"| figure | gateway process | gateway + stdio server |")
    print(f"|---|---:|---:|")
    print(f"| startup to listening, median of {args.runs} (ms) | {statistics.median(startups):.1f} | |")
    print(f"| idle RSS (MiB) | {mib(idle_gw)} | {mib(idle_tree)} |")
    print(f"| RSS with {args.sessions} idle SSE sessions (MiB) | {mib(busy_gw)} | {mib(busy_tree)} |")
    print(f"| peak (VmHWM) with {args.sessions} sessions (MiB) | {mib(hwm_gw)} | |")


if __name__ == "__main__":
    main()
