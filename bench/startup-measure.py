#!/usr/bin/env python3
"""startup-measure.py - the measuring half of bench/startup (the stack is started by the shell
script; this runs with its environment).

usage: startup-measure.py BIN RUNS IDLE_SECONDS MOTO_PID
  1. RUNS times: exec of `BIN --version` until it exits (the floor), and exec of
     `BIN run --foreground` until READY=1 arrives on a NOTIFY_SOCKET listener bound by this
     script; each daemon is then stopped with SIGTERM. Prints median and max of each.
  2. One daemon left idle for IDLE_SECONDS against the (empty) queue: its CPU seconds
     (utime+stime from /proc/PID/stat) against moto's and against `sleep IDLE_SECONDS` in the
     same interval, and the SQS requests it made (from /metrics when metrics.listen is set).
"""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")
TMPDIRS = []


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def start_daemon(binary, sock_path, log):
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    return subprocess.Popen([binary, "run", "--foreground"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def wait_ready(sock, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise SystemExit("no READY=1 (daemon exit status %r)" % proc.poll())
        sock.settimeout(left)
        data = sock.recv(4096).decode(errors="replace")
        if "READY=1" in data.split("\n"):
            return


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=40)
    if rc != 0:
        raise SystemExit("daemon exit status %d after SIGTERM" % rc)


def stats(name, values):
    ms = [v * 1000 for v in values]
    print("%-34s median %7.2f ms   max %7.2f ms   (%d runs)" %
          (name, statistics.median(ms), max(ms), len(ms)))
    return statistics.median(ms)


def main():
    binary, runs, idle, moto_pid = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    tmp = tempfile.mkdtemp(prefix="tad-startup.")
    TMPDIRS.append(tmp)
    sock_path = os.path.join(tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    log = open(os.path.join(tmp, "daemon.log"), "ab")

    floor, ready = [], []
    for _ in range(runs):  # interleaved, so that load from elsewhere hits both alike
        t0 = time.perf_counter()
        subprocess.run([binary, "--version"], stdout=subprocess.DEVNULL, check=True)
        floor.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        proc = start_daemon(binary, sock_path, log)
        wait_ready(sock, proc)
        ready.append(time.perf_counter() - t0)
        stop(proc)
        sock.settimeout(0)
        try:
            while sock.recv(4096):
                pass
        except BlockingIOError:
            pass
    f = stats("exec `--version` until exit", floor)
    r = stats("exec `run` until READY=1", ready)
    print("READY=1 median - --version median: %.2f ms; max %.2f ms (target < 100 ms)" %
          (r - f, max(ready) * 1000))

    proc = start_daemon(binary, sock_path, log)
    wait_ready(sock, proc)
    # keep reading the socket, as systemd does: the daemon refreshes STATUS= every few seconds
    # and a full datagram queue (net.unix.max_dgram_qlen, often 10) would block its sd_notify
    sock.settimeout(None)
    threading.Thread(target=lambda: [None for _ in iter(lambda: sock.recv(4096), b"")],
                     daemon=True).start()
    time.sleep(1.0)  # past the start-up queue check
    d0, m0 = ticks(proc.pid), ticks(moto_pid)
    sleeper = subprocess.Popen(["sleep", str(idle)])
    t0 = time.monotonic()
    _, status, ru = os.wait4(sleeper.pid, 0)
    sleeper.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    d1, m1 = ticks(proc.pid), ticks(moto_pid)
    sc = ru.ru_utime + ru.ru_stime
    metrics = ""
    listen = os.environ.get("TIKTOK_AUDIENCED_METRICS_LISTEN", "")
    if listen:
        with urllib.request.urlopen("http://%s/metrics" % listen, timeout=5) as r:
            metrics = r.read().decode()
    stop(proc)
    dc, mc = (d1 - d0) / HZ, (m1 - m0) / HZ
    print("idle %.0f s (receive.wait_seconds %s): tiktok-audienced CPU %.2f s = %.3f%% of one CPU" %
          (wall, os.environ.get("TIKTOK_AUDIENCED_RECEIVE_WAIT_SECONDS", "20"), dc,
           100 * dc / wall))
    print("  same interval: `sleep %.0f` CPU %.3f s (%.3f%%); moto CPU %.2f s (%.2f%%)" %
          (idle, sc, 100 * sc / wall, mc, 100 * mc / wall))
    n = sum(int(float(v)) for v in re.findall(
        r'^tiktok_audienced_aws_requests_total\{service="sqs"[^}]*\} (\S+)', metrics, re.M))
    if metrics:
        print("  SQS requests over the daemon's life (start-up check + long polls): %d" % n)


if __name__ == "__main__":
    try:
        main()
    finally:
        for d in TMPDIRS:
            shutil.rmtree(d, ignore_errors=True)
