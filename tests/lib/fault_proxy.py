#!/usr/bin/env python3
"""fault_proxy.py - an HTTP proxy in front of moto that injects scripted AWS faults, for the
fault-injection tests. Requests are forwarded byte for byte (so SigV4 signatures stay valid);
each request is matched against a queue of faults by service and operation, and the first
matching fault is consumed.

usage: fault_proxy.py --port-file F --target-port P

The service is taken from X-Amz-Target ("AmazonSQS.ReceiveMessage" -> sqs/ReceiveMessage,
"secretsmanager.GetSecretValue" -> secretsmanager/GetSecretValue); any other request is s3 and
its operation is the method ("GET", "PUT", "HEAD"). Control API (not forwarded):
  POST /_faults  {"faults":[FAULT...], "clear":bool}  append (or replace) faults
  GET  /_faults                                       pending faults and the hit log
A FAULT is {"service": "sqs"|"s3"|"secretsmanager"|"*", "op": "ReceiveMessage"|"GET"|"*",
            "times": N (default 1), and one of:
  "http": STATUS, "code": "ThrottlingException"  an AWS error answer (JSON or S3 XML body)
  "reset": true                                   close the connection without an answer
  "delay_ms": N                                   wait, then forward
  "slow_bps": N                                   forward, dripping the response at N bytes/s
  "cut_after": N                                  forward, cut the response after N bytes}
Standard library only. Logs one line per injected fault to stderr."""
import argparse
import json
import os
import socket
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--target-port", type=int, required=True)
args = ap.parse_args()

lock = threading.Lock()
faults = []
hits = []


def parse_head(head):
    """Splits a request or status head into its first line and lower-cased headers."""
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return lines[0], hdrs


def read_request(sock, buf):
    """Reads one request (head + Content-Length body) from sock; returns (raw, head, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None, None, b""
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    first, hdrs = parse_head(head)
    n = int(hdrs.get("content-length", "0") or 0)
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    body, extra = rest[:n], rest[n:]
    return head + b"\r\n\r\n" + body, (first, hdrs, body), extra


def read_response(sock, buf, head_only):
    """Reads one response from upstream; returns (raw, extra)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return buf, b""
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    _, hdrs = parse_head(head)
    if head_only:
        return head + b"\r\n\r\n", rest
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return head + b"\r\n\r\n" + rest, b""
    n = int(hdrs.get("content-length", "0") or 0)
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest[:n], rest[n:]


def classify(hdrs, method):
    target = hdrs.get("x-amz-target", "")
    if target.startswith("AmazonSQS."):
        return "sqs", target.split(".", 1)[1]
    if target.startswith("secretsmanager."):
        return "secretsmanager", target.split(".", 1)[1]
    return "s3", method


def take_fault(service, op):
    with lock:
        for f in faults:
            if f.get("service", "*") in ("*", service) and f.get("op", "*") in ("*", op):
                f["times"] = f.get("times", 1) - 1
                if f["times"] <= 0:
                    faults.remove(f)
                hits.append({"service": service, "op": op, "fault": {k: v for k, v in f.items() if k != "times"}})
                return dict(f)
    return None


def error_answer(service, f):
    status = int(f.get("http", 500))
    code = f.get("code", "InternalError" if status >= 500 else "ThrottlingException")
    if service == "s3":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code><Message>injected"
                "</Message><RequestId>FAULT</RequestId></Error>" % code).encode()
        ctype = "application/xml"
    else:
        body = json.dumps({"__type": code, "message": "injected"}).encode()
        ctype = "application/x-amz-json-1.0"
    return (b"HTTP/1.1 %d Injected\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            b"x-amzn-RequestId: FAULT\r\n\r\n" % (status, ctype.encode(), len(body))) + body


def control(client, line, hdrs, body):
    method = line.split(" ")[0]
    if method == "POST":
        req = json.loads(body or b"{}")
        with lock:
            if req.get("clear"):
                faults.clear()
                hits.clear()
            faults.extend(req.get("faults", []))
        out = {"ok": True}
    else:
        with lock:
            out = {"faults": list(faults), "hits": list(hits)}
    data = json.dumps(out).encode()
    client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                   % len(data) + data)


def send_slowly(client, data, bps):
    step = max(1, bps // 10)
    for i in range(0, len(data), step):
        client.sendall(data[i:i + step])
        time.sleep(0.1)


def handle(client):
    upstream = None
    buf = b""
    try:
        while True:
            raw, parsed, buf = read_request(client, buf)
            if raw is None:
                return
            line, hdrs, body = parsed
            if line.split(" ")[1].startswith("/_faults"):
                control(client, line, hdrs, body)
                continue
            method = line.split(" ")[0]
            service, op = classify(hdrs, method)
            f = take_fault(service, op)
            if f:
                sys.stderr.write("fault %s/%s: %s\n" % (service, op, f))
            if f and f.get("reset"):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return
            if f and "http" in f:
                client.sendall(error_answer(service, f))
                continue
            if f and f.get("delay_ms"):
                time.sleep(f["delay_ms"] / 1000.0)
            if upstream is None:
                upstream = socket.create_connection(("127.0.0.1", args.target_port))
            upstream.sendall(raw)
            resp, _ = read_response(upstream, b"", method == "HEAD")
            if f and f.get("cut_after") is not None:
                client.sendall(resp[:len(resp.partition(b"\r\n\r\n")[0]) + 4 + int(f["cut_after"])])
                return
            if f and f.get("slow_bps"):
                send_slowly(client, resp, int(f["slow_bps"]))
            else:
                client.sendall(resp)
    except OSError:
        pass
    finally:
        client.close()
        if upstream:
            upstream.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
tmp = args.port_file + ".tmp"
with open(tmp, "w") as fh:
    fh.write(str(srv.getsockname()[1]))
os.rename(tmp, args.port_file)
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
