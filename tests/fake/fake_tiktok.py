#!/usr/bin/env python3
"""fake_tiktok.py - a local stand-in for TikTok API for Business v1.3 custom-audience endpoints.

What it emulates (base path /open_api/v1.3, every path with its trailing slash):
  POST dmp/custom_audience/file/upload/   multipart/form-data upload of a hashed-ID file
  POST dmp/custom_audience/create/        create an audience from uploaded file paths
  POST dmp/custom_audience/update/        APPEND / REMOVE / REPLACE members, or rename
  POST dmp/custom_audience/delete/        delete audiences
  GET  dmp/custom_audience/list/          paged list of owned and shared audiences
  GET  dmp/custom_audience/get/           details and history of given audiences
Every answer carries the envelope {"code","message","request_id","data"}; API errors come back
with HTTP 200 and code != 0, as the real service does. Auth is the `Access-Token` header (no
Bearer prefix); each token maps to the advertiser ids it may act for.

A control API under /_fake/ lets tests inspect and script the fake: state, calls, reset, seed,
tokens, faults (see tests/fake/README.md).

Usage:
  python3 fake_tiktok.py --port 0 --port-file F [--token T:ADV[,T2:ADV2...]]
                         [--max-file-bytes N] [--state-file S] [--min-size N]
                         [--list-order newest|oldest]

Threading: ThreadingHTTPServer, one thread per connection; all state sits behind one lock.
Scripted delays sleep outside the lock. Logs one line per request to stderr; tokens and file
contents are never logged nor written to the call log. Standard library only.

GUESSES (things no public source settled; the real service may differ):
  - file_path is a 16-character token (the create spec constrains items to length 16); the fake
    uses 16 lower-case hex characters. Clients must treat it as opaque.
  - file_paths never expire in the fake (40910 FILE_EXPIRED is only reachable via faults).
  - A header row (e.g. "email_sha256") is not accepted: every non-empty line must be a hash of
    the declared type, so a header row gives 40909. Upper-case hex gives 40909 as well.
  - Lines are split on "\\n" with an optional trailing "\\r"; blank lines are ignored. A file of
    zero bytes or with only blank lines gives 40906 FILE_EMPTY.
  - Upload check order: advertiser_id (40002) / permission (40001), calculate_type (40002),
    file part and name (40002, suffix 40908), file_signature present (40002), empty (40906),
    size (40907), MD5 (40900, compared case-insensitively), only blank lines (40906), content
    (40909). Whitespace-only lines count as blank.
  - The size limit (default 52428800 bytes) applies to the file part, not the whole request.
  - MAID_SHA256/MAID_MD5 are accepted by upload and are treated as FIRST_SHA256/FIRST_MD5 when
    matched against an audience; create only accepts the FIRST_* names (MAID_* -> 40002).
  - Using another advertiser's file_path gives 40001; an unknown file_path gives 40905; a file of
    a different calculate_type gives 40909.
  - Updating or deleting an audience that does not exist gives 40007; one that exists but is not
    owned by the advertiser (including audiences only shared with it) gives 40001. get/ of an id
    the advertiser cannot see gives 40007.
  - REMOVE of members that are not in the audience is silently ignored (set difference).
  - update/ with file_paths and no action applies REPLACE (documented default) and the call log
    records action_omitted=true. update/ with neither file_paths nor custom_audience_name: 40002.
  - --min-size N (off by default): an update leaving fewer than N members fails with 40002 and
    changes nothing. create is not checked.
  - Parameter errors of every kind (missing field, wrong type, bad enum, out of range, body that
    is not JSON, JSON endpoint without an application/json content type) give 40002.
  - delete/ is all-or-nothing: one bad id fails the call and deletes nothing.
  - list/ sorts newest first (largest id first) unless --list-order oldest; total_page is
    ceil(total_number / page_size), so 0 when there is nothing; a page past the end is empty.
    custom_audience_ids on list/ filters the result.
  - cover_num equals the member count at once and is_valid is true at once (the real service
    takes hours to compute either).
  - Audience ids are 19-digit numeric strings that increase with every create or seed.
  - request_id looks like TikTok's: a UTC timestamp followed by hex; it is unique per response.
  - Array query parameters are JSON-encoded strings (custom_audience_ids=["1","2"]); the
    repeated-parameter form is rejected with 40002.
  - An unknown path under /open_api/v1.3 (including a path missing its trailing slash) answers
    HTTP 404 with the envelope and code 40000; a known path with the wrong method answers HTTP
    405 with code 40000.
  - Scripted HTTP-level faults ({"http":429} etc.) answer a short text/html body, not the
    envelope, unless the fault gives "body"/"content_type".
  - A scripted {"reset":true} reads the request, then closes the connection without a byte of
    answer (RST where the platform allows it).
"""

import argparse
import hashlib
import json
import os
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE = "/open_api/v1.3"

SHA256_TYPES = {
    "EMAIL_SHA256",
    "PHONE_SHA256",
    "IDFA_SHA256",
    "GAID_SHA256",
    "FIRST_SHA256",
    "MAID_SHA256",
}
MD5_TYPES = {"IDFA_MD5", "GAID_MD5", "FIRST_MD5", "MAID_MD5"}
UPLOAD_TYPES = SHA256_TYPES | MD5_TYPES
CREATE_TYPES = UPLOAD_TYPES - {"MAID_SHA256", "MAID_MD5"}
ALIASES = {"MAID_SHA256": "FIRST_SHA256", "MAID_MD5": "FIRST_MD5"}
ACTIONS = ("APPEND", "REMOVE", "REPLACE")

# (relative path, method) -> endpoint name
ENDPOINTS = {
    "dmp/custom_audience/file/upload/": ("upload", "POST"),
    "dmp/custom_audience/create/": ("create", "POST"),
    "dmp/custom_audience/update/": ("update", "POST"),
    "dmp/custom_audience/delete/": ("delete", "POST"),
    "dmp/custom_audience/list/": ("list", "GET"),
    "dmp/custom_audience/get/": ("get", "GET"),
}
ENDPOINT_NAMES = {v[0] for v in ENDPOINTS.values()}

MESSAGES = {
    0: "OK",
    40000: "Invalid parameters",
    40001: "No permission to operate advertiser or resource",
    40002: "Parameter error",
    40007: "The resource does not exist",
    40100: "Requests made too frequently",
    40102: "Access token has expired",
    40104: "Access token is empty",
    40105: "Access token is incorrect or has been revoked",
    40900: "File signature error",
    40905: "File does not exist",
    40906: "File is empty",
    40907: "File is too large",
    40908: "File type error",
    40909: "File content does not match calculate_type",
    40910: "File has expired",
    50000: "System error",
    50002: "System timeout",
}

HTTP_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

AUDIENCE_ID_START = 7300000000000000001
HEX = frozenset("0123456789abcdef")


class ApiError(Exception):
    def __init__(self, code, message=None):
        super().__init__(message or MESSAGES.get(code, "Error"))
        self.code = code
        self.message = message or MESSAGES.get(code, "Error")


class ControlError(Exception):
    pass


def now_str(ts=None):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts if ts is not None else time.time()))


def canonical_type(ct):
    return ALIASES.get(ct, ct)


def hash_len(ct):
    return 64 if ct in SHA256_TYPES else 32


def is_hash(s, n):
    return len(s) == n and all(c in HEX for c in s)


def parse_header_params(value):
    """Split 'main; a=b; c="d;e"' into ('main', {'a': 'b', 'c': 'd;e'}) (keys lower-cased)."""
    params = {}
    i = 0
    n = len(value)
    semi = value.find(";")
    main = (value if semi < 0 else value[:semi]).strip().lower()
    if semi < 0:
        return main, params
    i = semi + 1
    while i < n:
        while i < n and value[i] in " \t;":
            i += 1
        eq = value.find("=", i)
        if eq < 0:
            break
        key = value[i:eq].strip().lower()
        i = eq + 1
        while i < n and value[i] in " \t":
            i += 1
        if i < n and value[i] == '"':
            i += 1
            buf = []
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(value[i])
                i += 1
            i += 1
            val = "".join(buf)
        else:
            end = value.find(";", i)
            if end < 0:
                end = n
            val = value[i:end].strip()
            i = end
        params[key] = val
    if "filename*" in params:
        ext = params["filename*"]
        parts = ext.split("'", 2)
        if len(parts) == 3:
            params["filename"] = urllib.parse.unquote(parts[2], encoding=parts[0] or "utf-8")
    return main, params


def parse_multipart(body, content_type):
    """Parse a multipart/form-data body. Returns a list of dicts (name, filename, headers, data).
    Raises ValueError on anything malformed."""
    main, params = parse_header_params(content_type or "")
    if main != "multipart/form-data":
        raise ValueError("content type is not multipart/form-data")
    boundary = params.get("boundary")
    if not boundary or len(boundary) > 200:
        raise ValueError("missing or bad boundary")
    delim = b"--" + boundary.encode("latin-1")
    if body.startswith(delim):
        pos = len(delim)
    else:
        first = body.find(b"\r\n" + delim)
        if first < 0:
            raise ValueError("no opening boundary")
        pos = first + 2 + len(delim)
    parts = []
    while True:
        if body[pos : pos + 2] == b"--":
            break
        if body[pos : pos + 2] != b"\r\n":
            raise ValueError("bad boundary line")
        hdr_end = body.find(b"\r\n\r\n", pos)
        if hdr_end < 0:
            raise ValueError("unterminated part headers")
        headers = {}
        for line in body[pos + 2 : hdr_end].split(b"\r\n"):
            if not line:
                continue
            k, sep, v = line.decode("utf-8", "replace").partition(":")
            if not sep:
                raise ValueError("bad part header")
            headers[k.strip().lower()] = v.strip()
        data_start = hdr_end + 4
        nxt = body.find(b"\r\n" + delim, data_start)
        if nxt < 0:
            raise ValueError("unterminated part")
        disp, dparams = parse_header_params(headers.get("content-disposition", ""))
        if disp != "form-data" or "name" not in dparams:
            raise ValueError("part without form-data name")
        parts.append(
            {
                "name": dparams["name"],
                "filename": dparams.get("filename"),
                "headers": headers,
                "data": body[data_start:nxt],
            }
        )
        pos = nxt + 2 + len(delim)
    return parts


def id_str(v, what):
    """Accept an id given as a digit string or a non-negative integer."""
    if isinstance(v, bool):
        raise ApiError(40002, "%s must be a numeric string" % what)
    if isinstance(v, int) and v >= 0:
        return str(v)
    if isinstance(v, str) and v.isdigit() and len(v) <= 20 and v.isascii():
        return v
    raise ApiError(40002, "%s must be a numeric string" % what)


class Fake:
    """All state of the fake; every public method takes the lock."""

    def __init__(self, tokens, max_file_bytes, min_size, list_order, state_file):
        self.lock = threading.Lock()
        self.initial_tokens = {t: set(a) for t, a in tokens.items()}
        self.max_file_bytes = max_file_bytes
        self.min_size = min_size
        self.list_order = list_order
        self.state_file = state_file
        self.rid_counter = 0
        self.call_seq = 0
        self.calls = []
        self.faults = []
        self.reset_state()
        if state_file and os.path.exists(state_file):
            self.load(tokens_from_cli=bool(tokens))

    # ---- state management (lock held by callers) ----
    def reset_state(self):
        self.tokens = {t: set(a) for t, a in self.initial_tokens.items()}
        self.audiences = {}
        self.files = {}
        self.next_audience_id = AUDIENCE_ID_START
        self.calls = []
        self.faults = []

    def load(self, tokens_from_cli):
        with open(self.state_file, "r", encoding="utf-8") as f:
            st = json.load(f)
        for a in st.get("audiences", []):
            a = dict(a)
            a["members"] = set(a.get("members", []))
            self.audiences[a["audience_id"]] = a
        for fp in st.get("files", []):
            fp = dict(fp)
            fp["members"] = set(fp.get("members", []))
            self.files[fp["file_path"]] = fp
        self.next_audience_id = int(st.get("next_audience_id", AUDIENCE_ID_START))
        if not tokens_from_cli and "tokens" in st:
            self.tokens = {t: set(a) for t, a in st["tokens"].items()}

    def snapshot(self):
        return {
            "audiences": [self.audience_dump(a) for a in self.sorted_audiences(oldest=True)],
            "files": [self.file_dump(f) for f in self.files.values()],
            "tokens": {t: sorted(a) for t, a in self.tokens.items()},
            "next_audience_id": str(self.next_audience_id),
            "pending_faults": [dict(f) for f in self.faults],
        }

    def save(self):
        if not self.state_file:
            return
        tmp = self.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.snapshot(), f)
        os.replace(tmp, self.state_file)

    @staticmethod
    def audience_dump(a):
        d = {k: v for k, v in a.items() if k != "members"}
        d["members"] = sorted(a["members"])
        return d

    @staticmethod
    def file_dump(f):
        d = {k: v for k, v in f.items() if k != "members"}
        d["members"] = sorted(f["members"])
        return d

    def sorted_audiences(self, oldest):
        return sorted(self.audiences.values(), key=lambda a: int(a["audience_id"]), reverse=not oldest)

    def new_audience_id(self):
        aid = str(self.next_audience_id)
        self.next_audience_id += 1
        return aid

    def new_request_id(self):
        with self.lock:
            self.rid_counter += 1
            n = self.rid_counter
        return "%s%06x%s" % (time.strftime("%Y%m%d%H%M%S", time.gmtime()), n, secrets.token_hex(5).upper())

    # ---- faults and calls ----
    def take_fault(self, endpoint):
        with self.lock:
            for i, f in enumerate(self.faults):
                ep = f.get("endpoint", "*")
                if ep == "*" or ep == endpoint:
                    fault = dict(f)
                    times = f.get("times", 1)
                    if times > 0:
                        if times <= 1:
                            del self.faults[i]
                        else:
                            f["times"] = times - 1
                    return fault
        return None

    def record_call(self, entry):
        with self.lock:
            self.call_seq += 1
            entry["seq"] = self.call_seq
            self.calls.append(entry)

    # ---- auth (lock held) ----
    def check_token(self, token):
        if token is None or token.strip() == "":
            raise ApiError(40104)
        if token not in self.tokens:
            raise ApiError(40105)

    def check_advertiser(self, token, adv):
        if adv not in self.tokens.get(token, ()):
            raise ApiError(40001, "No permission to operate advertiser %s" % adv)

    def authorize(self, token, params, call):
        """Token present and known, advertiser_id valid and allowed. Returns the advertiser id."""
        self.check_token(token)
        if "advertiser_id" not in params or params["advertiser_id"] in (None, ""):
            raise ApiError(40002, "advertiser_id is required")
        adv = id_str(params["advertiser_id"], "advertiser_id")
        call["advertiser"] = adv
        self.check_advertiser(token, adv)
        return adv

    # ---- file path checks (lock held) ----
    def resolve_files(self, adv, paths, want_type, call):
        if not isinstance(paths, list) or not (1 <= len(paths) <= 500):
            raise ApiError(40002, "file_paths must be a list of 1 to 500 items")
        if not all(isinstance(p, str) for p in paths):
            raise ApiError(40002, "file_paths items must be strings")
        call["file_paths"] = list(paths)
        files = []
        for p in paths:
            f = self.files.get(p)
            if f is None:
                raise ApiError(40905, "File does not exist: %s" % p)
            if f["advertiser"] != adv:
                raise ApiError(40001, "File %s belongs to another advertiser" % p)
            if canonical_type(f["calculate_type"]) != canonical_type(want_type):
                raise ApiError(
                    40909,
                    "File %s has calculate_type %s, not %s" % (p, f["calculate_type"], want_type),
                )
            files.append(f)
        return files

    def history(self, a, action, detail):
        a.setdefault("history", []).append(
            {
                "action": action,
                "action_detail": detail,
                "editor": "open_api",
                "msg": "",
                "opt_time": now_str(),
            }
        )

    # ---- endpoints (each takes the lock) ----
    def ep_upload(self, token, body, content_type, call):
        try:
            parts = parse_multipart(body, content_type)
        except ValueError as e:
            with self.lock:
                self.check_token(token)
            raise ApiError(40002, "Invalid multipart body: %s" % e)
        fields = {}
        filepart = None
        for p in parts:
            if p["name"] == "file" and p["filename"] is not None:
                if filepart is not None:
                    raise ApiError(40002, "more than one file part")
                filepart = p
            elif p["name"] not in fields:
                fields[p["name"]] = p["data"].decode("utf-8", "replace")
        with self.lock:
            adv = self.authorize(token, fields, call)
            ct = fields.get("calculate_type")
            call["calculate_type"] = ct
            if ct not in UPLOAD_TYPES:
                raise ApiError(40002, "calculate_type is invalid")
            if filepart is None:
                raise ApiError(40002, "file is required")
            fname = filepart["filename"]
            call["file_name"] = fname
            if not (fname.endswith(".csv") or fname.endswith(".txt")):
                raise ApiError(40908, "Only .csv and .txt files are supported")
            sig = fields.get("file_signature")
            if not sig:
                raise ApiError(40002, "file_signature is required")
            data = filepart["data"]
            call["file_bytes"] = len(data)
            if len(data) == 0:
                raise ApiError(40906)
            if len(data) > self.max_file_bytes:
                raise ApiError(40907, "File is larger than %d bytes" % self.max_file_bytes)
            md5 = hashlib.md5(data).hexdigest()
            if sig.strip().lower() != md5:
                raise ApiError(40900)
            lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in data.split(b"\n")]
            rows = [ln for ln in lines if ln.strip() != b""]
            if not rows:
                raise ApiError(40906)
            n = hash_len(ct)
            members = set()
            for i, r in enumerate(rows):
                s = r.decode("ascii", "replace")
                if not is_hash(s, n):
                    raise ApiError(
                        40909, "Line %d is not a %d-character lower-case hex value" % (i + 1, n)
                    )
                members.add(s)
            while True:
                fp = secrets.token_hex(8)
                if fp not in self.files:
                    break
            self.files[fp] = {
                "file_path": fp,
                "advertiser": adv,
                "calculate_type": ct,
                "file_name": fname,
                "size": len(data),
                "md5": md5,
                "rows": len(rows),
                "members": members,
                "upload_time": now_str(),
            }
            call["file_path"] = fp
            call["rows"] = len(rows)
            self.save()
            return {"file_path": fp}

    def ep_create(self, token, params, call):
        with self.lock:
            adv = self.authorize(token, params, call)
            name = params.get("custom_audience_name")
            call["name"] = name
            if not isinstance(name, str) or not (1 <= len(name) <= 128):
                raise ApiError(40002, "custom_audience_name must be 1 to 128 characters")
            ct = params.get("calculate_type")
            call["calculate_type"] = ct
            if ct not in CREATE_TYPES:
                raise ApiError(40002, "calculate_type is invalid")
            files = self.resolve_files(adv, params.get("file_paths"), ct, call)
            for opt in ("retention_in_days",):
                if opt in params and not (
                    isinstance(params[opt], int) and 1 <= params[opt] <= 365
                ):
                    raise ApiError(40002, "retention_in_days must be 1 to 365")
            members = set()
            for f in files:
                members |= f["members"]
            aid = self.new_audience_id()
            a = self.make_audience(aid, adv, name, ct, members, [], None, True)
            self.history(a, "CREATE", "file_paths=%d" % len(files))
            self.audiences[aid] = a
            call["audience_id"] = aid
            self.save()
            return {"custom_audience_id": aid}

    def make_audience(self, aid, owner, name, ct, members, shared_with, create_time, is_valid):
        ts = time.time()
        return {
            "audience_id": aid,
            "owner": owner,
            "name": name,
            "calculate_type": ct,
            "members": set(members),
            "shared_with": [str(s) for s in shared_with],
            "create_time": create_time or now_str(ts),
            "expired_time": now_str(ts + 365 * 86400),
            "is_valid": bool(is_valid),
            "history": [],
        }

    def visible(self, a, adv):
        return a["owner"] == adv or adv in a["shared_with"]

    def ep_update(self, token, params, call):
        with self.lock:
            adv = self.authorize(token, params, call)
            if "custom_audience_id" not in params:
                raise ApiError(40002, "custom_audience_id is required")
            aid = id_str(params["custom_audience_id"], "custom_audience_id")
            call["audience_id"] = aid
            a = self.audiences.get(aid)
            if a is None:
                raise ApiError(40007, "Audience %s does not exist" % aid)
            if a["owner"] != adv:
                raise ApiError(40001, "No permission to operate audience %s" % aid)
            new_name = params.get("custom_audience_name")
            if new_name is not None and (
                not isinstance(new_name, str) or not (1 <= len(new_name) <= 128)
            ):
                raise ApiError(40002, "custom_audience_name must be 1 to 128 characters")
            paths = params.get("file_paths")
            if paths is None and new_name is None:
                raise ApiError(40002, "custom_audience_name or file_paths is required")
            members = a["members"]
            action = None
            if paths is not None:
                if "action" in params and params["action"] is not None:
                    action = params["action"]
                    call["action"] = action
                    call["action_omitted"] = False
                    if action not in ACTIONS:
                        raise ApiError(40002, "action must be APPEND, REMOVE or REPLACE")
                else:
                    action = "REPLACE"
                    call["action"] = action
                    call["action_omitted"] = True
                files = self.resolve_files(adv, paths, a["calculate_type"], call)
                incoming = set()
                for f in files:
                    incoming |= f["members"]
                if action == "APPEND":
                    members = members | incoming
                elif action == "REMOVE":
                    members = members - incoming
                else:
                    members = incoming
                if self.min_size and len(members) < self.min_size:
                    raise ApiError(
                        40002, "The audience size would be less than %d after the operation"
                        % self.min_size,
                    )
            a["members"] = members
            if new_name is not None:
                a["name"] = new_name
            self.history(a, action or "RENAME", "file_paths=%d" % len(paths or []))
            self.save()
            return {}

    def ep_delete(self, token, params, call):
        with self.lock:
            adv = self.authorize(token, params, call)
            ids = params.get("custom_audience_ids")
            if not isinstance(ids, list) or not (1 <= len(ids) <= 100):
                raise ApiError(40002, "custom_audience_ids must be a list of 1 to 100 ids")
            ids = [id_str(i, "custom_audience_ids") for i in ids]
            call["audience_ids"] = ids
            for aid in ids:
                a = self.audiences.get(aid)
                if a is None:
                    raise ApiError(40007, "Audience %s does not exist" % aid)
                if a["owner"] != adv:
                    raise ApiError(40001, "No permission to operate audience %s" % aid)
            for aid in ids:
                self.audiences.pop(aid, None)
            self.save()
            return {}

    def item(self, a, adv):
        return {
            "audience_id": a["audience_id"],
            "name": a["name"],
            "calculate_type": a["calculate_type"],
            "audience_type": "Customer File Audience",
            "audience_sub_type": "NORMAL",
            "is_creator": a["owner"] == adv,
            "shared": bool(a["shared_with"]),
            "is_valid": a["is_valid"],
            "is_expiring": False,
            "is_auto_refresh": False,
            "cover_num": len(a["members"]),
            "owner_id": a["owner"],
            "create_time": a["create_time"],
            "expired_time": a["expired_time"],
            "msg": "",
            "error_msg": "",
            "rule": "",
            "lookalike_spec": None,
        }

    @staticmethod
    def query_one(q, key):
        v = q.get(key)
        if v is None:
            return None
        if len(v) != 1:
            raise ApiError(40002, "%s given more than once" % key)
        return v[0]

    def query_int(self, q, key, default, lo, hi):
        v = self.query_one(q, key)
        if v is None or v == "":
            return default
        if not (v.isascii() and v.isdigit()) or not (lo <= int(v) <= hi):
            raise ApiError(40002, "%s must be an integer from %d to %d" % (key, lo, hi))
        return int(v)

    def query_ids(self, q, key, required):
        v = self.query_one(q, key)
        if v is None:
            if required:
                raise ApiError(40002, "%s is required" % key)
            return None
        try:
            ids = json.loads(v)
        except ValueError:
            raise ApiError(40002, "%s must be a JSON array" % key) from None
        if not isinstance(ids, list) or not (1 <= len(ids) <= 100):
            raise ApiError(40002, "%s must be a JSON array of 1 to 100 ids" % key)
        return [id_str(i, key) for i in ids]

    def authorize_query(self, token, q, call):
        self.check_token(token)
        adv = self.query_one(q, "advertiser_id")
        if adv is None or adv == "":
            raise ApiError(40002, "advertiser_id is required")
        return self.authorize(token, {"advertiser_id": adv}, call)

    def ep_list(self, token, q, call):
        with self.lock:
            adv = self.authorize_query(token, q, call)
            page = self.query_int(q, "page", 1, 1, 1 << 31)
            page_size = self.query_int(q, "page_size", 10, 1, 100)
            call["page"] = page
            call["page_size"] = page_size
            only = self.query_ids(q, "custom_audience_ids", False)
            mine = [
                a
                for a in self.sorted_audiences(oldest=self.list_order == "oldest")
                if self.visible(a, adv) and (only is None or a["audience_id"] in only)
            ]
            total = len(mine)
            chunk = mine[(page - 1) * page_size : page * page_size]
            return {
                "list": [self.item(a, adv) for a in chunk],
                "page_info": {
                    "page": page,
                    "page_size": page_size,
                    "total_number": total,
                    "total_page": (total + page_size - 1) // page_size,
                },
            }

    def ep_get(self, token, q, call):
        with self.lock:
            adv = self.authorize_query(token, q, call)
            ids = self.query_ids(q, "custom_audience_ids", True)
            call["audience_ids"] = ids
            hsize = self.query_int(q, "history_size", 100, 1, 100)
            out = []
            for aid in ids:
                a = self.audiences.get(aid)
                if a is None or not self.visible(a, adv):
                    raise ApiError(40007, "Audience %s does not exist" % aid)
                hist = list(reversed(a.get("history", [])))[:hsize]
                out.append({"audience_details": self.item(a, adv), "audience_history": hist})
            return {"list": out}

    # ---- control API ----
    def ctl_seed(self, body):
        items = body.get("audiences", body) if isinstance(body, dict) else body
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise ControlError("seed wants an audience object or a list of them")
        created = []
        with self.lock:
            for it in items:
                if not isinstance(it, dict) or "owner" not in it or "name" not in it:
                    raise ControlError("each seeded audience needs owner and name")
                ct = it.get("calculate_type", "EMAIL_SHA256")
                if ct not in UPLOAD_TYPES:
                    raise ControlError("bad calculate_type %r" % ct)
                members = it.get("members", [])
                if isinstance(members, int):
                    # a count: generate distinct deterministic members
                    members = [
                        hashlib.sha256(b"seed-%d" % i).hexdigest()[: hash_len(ct)]
                        for i in range(members)
                    ]
                if "audience_id" in it:
                    aid = str(it["audience_id"])
                    if not aid.isdigit() or aid in self.audiences:
                        raise ControlError("bad or duplicate audience_id %s" % aid)
                    self.next_audience_id = max(self.next_audience_id, int(aid) + 1)
                else:
                    aid = self.new_audience_id()
                a = self.make_audience(
                    aid,
                    str(it["owner"]),
                    it["name"],
                    ct,
                    members,
                    it.get("shared_with", []),
                    it.get("create_time"),
                    it.get("is_valid", True),
                )
                self.audiences[aid] = a
                created.append(aid)
            self.save()
        return {"audience_ids": created}

    def ctl_tokens(self, body):
        m = body.get("tokens", body) if isinstance(body, dict) else None
        if not isinstance(m, dict):
            raise ControlError('tokens wants {"TOKEN": ["ADV", ...], ...}')
        new = {}
        for t, advs in m.items():
            if isinstance(advs, (str, int)):
                advs = [advs]
            if not isinstance(advs, list):
                raise ControlError("advertisers of a token must be a list")
            new[str(t)] = {str(a) for a in advs}
        with self.lock:
            self.tokens = new
            self.save()
        return {"tokens": len(new)}

    def ctl_faults(self, body):
        clear = False
        if isinstance(body, dict) and ("faults" in body or "clear" in body):
            clear = bool(body.get("clear", False))
            items = body.get("faults", [])
        else:
            items = body
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise ControlError("faults wants a fault object or a list of them")
        allowed = {
            "endpoint",
            "code",
            "message",
            "http",
            "body",
            "content_type",
            "retry_after",
            "delay_ms",
            "reset",
            "times",
            "apply",
            "data",
        }
        for f in items:
            if not isinstance(f, dict):
                raise ControlError("a fault must be an object")
            bad = set(f) - allowed
            if bad:
                raise ControlError("unknown fault keys: %s" % ", ".join(sorted(bad)))
            ep = f.get("endpoint", "*")
            if ep != "*" and ep not in ENDPOINT_NAMES:
                raise ControlError("unknown endpoint %r" % ep)
            if not isinstance(f.get("times", 1), int):
                raise ControlError("times must be an integer")
        with self.lock:
            if clear:
                self.faults = []
            self.faults.extend(dict(f) for f in items)
            return {"pending": len(self.faults)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTikTok/1.0"
    sys_version = ""
    # headers and body go out in separate writes: without TCP_NODELAY the body of an answer
    # on a kept-alive connection waits for the client's delayed ACK (about 40 ms a call)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # silence the default access log
        pass

    def log_line(self, text):
        sys.stderr.write("fake_tiktok: %s\n" % text)
        sys.stderr.flush()

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    # ---- I/O helpers ----
    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ValueError("truncated chunked body")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline(8)
            return bytes(out)
        n = int(self.headers.get("Content-Length", "0") or "0")
        if n < 0:
            raise ValueError("negative length")
        data = self.rfile.read(n)
        if len(data) != n:
            raise ValueError("truncated body")
        return data

    def send_raw(self, status, body, content_type, extra=None):
        self.send_response(status, HTTP_REASONS.get(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, status, obj):
        self.send_raw(status, json.dumps(obj).encode("utf-8"), "application/json; charset=utf-8")

    def envelope(self, status, code, message, rid, data):
        self.send_json(
            status,
            {"code": code, "message": message, "request_id": rid, "data": data if data is not None else {}},
        )

    def abort_connection(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass

    # ---- dispatch ----
    def dispatch(self):
        fake = self.server.fake
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.abort_connection()
            self.log_line("%s %s unreadable body, connection closed" % (self.command, path))
            return
        if path.startswith("/_fake/"):
            self.control(fake, path, body)
            return
        rid = fake.new_request_id()
        rel = path[len(BASE) + 1 :] if path.startswith(BASE + "/") else None
        ep = ENDPOINTS.get(rel) if rel is not None else None
        call = {
            "time": now_str(),
            "method": self.command,
            "path": path,
            "endpoint": ep[0] if ep else None,
            "request_id": rid,
            "advertiser": None,
        }
        if ep is None or ep[1] != self.command:
            status = 404 if ep is None else 405
            call.update(http=status, code=40000)
            fake.record_call(call)
            self.log_line("%s %s http=%d code=40000 request_id=%s" % (self.command, path, status, rid))
            self.envelope(status, 40000, "Unsupported path or method", rid, None)
            return
        self.api(fake, ep[0], url, body, rid, call)

    def api(self, fake, endpoint, url, body, rid, call):
        fault = fake.take_fault(endpoint)
        if fault is not None:
            call["fault"] = fault
            if fault.get("delay_ms"):
                time.sleep(fault["delay_ms"] / 1000.0)
        token = self.headers.get("Access-Token")
        call["auth"] = "missing" if not token else "present"
        if fault is not None and not fault.get("apply"):
            if self.fault_answer(fault, rid, call):
                return
        code, message, data = 0, "OK", {}
        try:
            if endpoint == "upload":
                data = fake.ep_upload(token, body, self.headers.get("Content-Type", ""), call)
            elif endpoint in ("list", "get"):
                q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                data = getattr(fake, "ep_" + endpoint)(token, q, call)
            else:
                params = self.json_params(fake, token, body)
                data = getattr(fake, "ep_" + endpoint)(token, params, call)
        except ApiError as e:
            code, message, data = e.code, e.message, {}
        if fault is not None and fault.get("apply"):
            call["applied_code"] = code
            if self.fault_answer(fault, rid, call):
                return
        call.update(http=200, code=code)
        fake.record_call(call)
        self.log_line(
            "%s %s endpoint=%s advertiser=%s code=%d request_id=%s"
            % (self.command, call["path"], endpoint, call.get("advertiser"), code, rid)
        )
        self.envelope(200, code, message, rid, data)

    def json_params(self, fake, token, body):
        with fake.lock:
            fake.check_token(token)
        ctype, _ = parse_header_params(self.headers.get("Content-Type", ""))
        if ctype != "application/json":
            raise ApiError(40002, "Content-Type must be application/json")
        try:
            params = json.loads(body.decode("utf-8"))
        except ValueError:
            raise ApiError(40002, "Request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise ApiError(40002, "Request body must be a JSON object")
        return params

    def fault_answer(self, fault, rid, call):
        """Answer per a scripted fault. Returns False when the request must be answered normally."""
        fake = self.server.fake
        if fault.get("reset"):
            call.update(http=None, code=None, reset=True)
            fake.record_call(call)
            self.log_line("%s %s fault=reset request_id=%s" % (self.command, call["path"], rid))
            self.abort_connection()
            return True
        if fault.get("http"):
            status = int(fault["http"])
            reason = HTTP_REASONS.get(status, "Error")
            body = fault.get("body")
            if body is None:
                body = "<html><body><h1>%d %s</h1></body></html>\n" % (status, reason)
            extra = {}
            if "retry_after" in fault:
                extra["Retry-After"] = str(fault["retry_after"])
            call.update(http=status, code=None)
            fake.record_call(call)
            self.log_line("%s %s fault=http %d request_id=%s" % (self.command, call["path"], status, rid))
            self.send_raw(
                status,
                body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8"),
                fault.get("content_type", "text/html"),
                extra,
            )
            return True
        if "code" in fault:
            code = int(fault["code"])
            call.update(http=200, code=code)
            fake.record_call(call)
            self.log_line("%s %s fault=code %d request_id=%s" % (self.command, call["path"], code, rid))
            self.envelope(
                200, code, fault.get("message", MESSAGES.get(code, "Error")), rid, fault.get("data")
            )
            return True
        return False

    # ---- control API ----
    def control(self, fake, path, body):
        try:
            if body:
                try:
                    req = json.loads(body.decode("utf-8"))
                except ValueError:
                    raise ControlError("body is not JSON") from None
            else:
                req = {}
            if path == "/_fake/state" and self.command == "GET":
                with fake.lock:
                    out = fake.snapshot()
            elif path == "/_fake/calls" and self.command == "GET":
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                since = int(q.get("since", ["0"])[0])
                ep = q.get("endpoint", [None])[0]
                with fake.lock:
                    out = {
                        "calls": [
                            dict(c)
                            for c in fake.calls
                            if c["seq"] > since and (ep is None or c["endpoint"] == ep)
                        ]
                    }
            elif path == "/_fake/faults" and self.command == "GET":
                with fake.lock:
                    out = {"faults": [dict(f) for f in fake.faults]}
            elif self.command != "POST":
                raise ControlError("unknown control call")
            elif path == "/_fake/reset":
                with fake.lock:
                    fake.reset_state()
                    fake.save()
                out = {"reset": True}
            elif path == "/_fake/seed":
                out = fake.ctl_seed(req)
            elif path == "/_fake/tokens":
                out = fake.ctl_tokens(req)
            elif path == "/_fake/faults":
                out = fake.ctl_faults(req)
            else:
                raise ControlError("unknown control call")
            status = 200
        except ControlError as e:
            status, out = 400, {"error": str(e)}
        self.log_line("%s %s control http=%d" % (self.command, path, status))
        self.send_json(status, out)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def parse_tokens(specs):
    tokens = {}
    for spec in specs or []:
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            tok, sep, adv = item.rpartition(":")
            if not sep or not tok or not adv:
                raise SystemExit("fake_tiktok: bad --token item %r (want TOKEN:ADVERTISER)" % item)
            tokens.setdefault(tok, set()).add(adv)
    return tokens


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake TikTok API for Business (custom audiences)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--token", action="append", help="TOKEN:ADV[,TOKEN2:ADV2...]; repeatable")
    ap.add_argument("--max-file-bytes", type=int, default=52428800)
    ap.add_argument("--state-file")
    ap.add_argument("--min-size", type=int, default=0)
    ap.add_argument("--list-order", choices=("newest", "oldest"), default="newest")
    args = ap.parse_args(argv)

    fake = Fake(
        parse_tokens(args.token), args.max_file_bytes, args.min_size, args.list_order, args.state_file
    )
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.fake = fake
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write("fake_tiktok: listening on 127.0.0.1:%d\n" % port)
    sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
