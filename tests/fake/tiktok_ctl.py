#!/usr/bin/env python3
"""tiktok_ctl.py - command-line client for the control API of fake_tiktok.py (shell tests).

  tiktok_ctl.py [--url URL | --port-file F] state
  tiktok_ctl.py ... calls [--endpoint NAME] [--since SEQ]
  tiktok_ctl.py ... reset
  tiktok_ctl.py ... seed JSON        # JSON text, @file, or - for stdin
  tiktok_ctl.py ... faults JSON
  tiktok_ctl.py ... tokens JSON

The URL defaults to $FAKE_TIKTOK_URL. Prints the JSON answer on stdout; exits 0 on HTTP 200,
1 on an error answer, 2 when the fake cannot be reached. Standard library only.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


def load_json_arg(arg):
    if arg == "-":
        text = sys.stdin.read()
    elif arg.startswith("@"):
        with open(arg[1:], "r", encoding="utf-8") as f:
            text = f.read()
    else:
        text = arg
    return json.loads(text)


def call(base, method, path, body=None):
    data = None
    headers = {}
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read().decode("utf-8") or "{}")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read().decode("utf-8") or "{}")
        except ValueError:
            return e.code, {"error": "HTTP %d" % e.code}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Control a running fake_tiktok.py")
    ap.add_argument("--url", default=os.environ.get("FAKE_TIKTOK_URL"))
    ap.add_argument("--port-file", help="read the port from this file; URL is 127.0.0.1")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("state")
    c = sub.add_parser("calls")
    c.add_argument("--endpoint")
    c.add_argument("--since", type=int, default=0)
    sub.add_parser("reset")
    for name in ("seed", "faults", "tokens"):
        p = sub.add_parser(name)
        p.add_argument("json", help="JSON text, @file or -")
    args = ap.parse_args(argv)

    base = args.url
    if args.port_file:
        with open(args.port_file, "r", encoding="ascii") as f:
            base = "http://127.0.0.1:%d" % int(f.read().strip())
    if not base:
        ap.error("give --url, --port-file or set FAKE_TIKTOK_URL")

    try:
        if args.cmd == "state":
            status, out = call(base, "GET", "/_fake/state")
        elif args.cmd == "calls":
            q = {"since": str(args.since)}
            if args.endpoint:
                q["endpoint"] = args.endpoint
            status, out = call(base, "GET", "/_fake/calls?" + urllib.parse.urlencode(q))
        elif args.cmd == "reset":
            status, out = call(base, "POST", "/_fake/reset", {})
        else:
            try:
                body = load_json_arg(args.json)
            except (ValueError, OSError) as e:
                sys.stderr.write("tiktok_ctl: bad JSON argument: %s\n" % e)
                return 1
            status, out = call(base, "POST", "/_fake/" + args.cmd, body)
    except (urllib.error.URLError, OSError) as e:
        sys.stderr.write("tiktok_ctl: cannot reach %s: %s\n" % (base, e))
        return 2
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
