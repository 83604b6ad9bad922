"""Random SigV4 request generator and botocore reference signer.

Shared by tests/crosscheck/test_sigv4_botocore and bench/sigv4. Each request is a dict in the
JSON-lines format read by `sigv4-sign --batch` (see its --help).
"""
import random
from urllib.parse import quote

from botocore.auth import SIGNED_HEADERS_BLACKLIST, S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICES = ["sqs", "secretsmanager", "sts", "s3", "service"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]
SEG_ATOMS = ["a", "Obj", "data", "x1", "é", "ሴ", "😀", " ", "+", "!", "$", "&", "'", "(", ")",
             "*", ",", ";", "=", ":", "@", "%", "~", "-", "_", ".", "?", "#", "[", "]", "ü"]
# Characters a client may leave unencoded in a path (RFC 3986 pchar sub-delims).
PATH_LITERAL = "!$'()*,;=:@"
QUERY_ATOMS = ["a", "B", "key", "Param", "v", "ሴ", "é", " ", "+", "/", "=", "&", "%", "~", ".",
               "-", "_", "?", "😀", "*", "'", ",", "x-amz-meta"]
HEADER_NAMES = ["X-Custom", "Content-Type", "x-amz-target", "X-Amz-Meta-Note", "Accept",
                "My-Header1", "content-md5", "X-Trace", "Range"]
# Headers never signed; older botocore releases skip fewer of them, so only the ones the
# installed botocore skips too are generated.
SKIPPED = [h for h in ["User-Agent", "Expect", "Connection", "X-Amzn-Trace-Id",
                       "Transfer-Encoding", "Keep-Alive", "TE", "Upgrade"]
           if h.lower() in SIGNED_HEADERS_BLACKLIST]
VALUE_ATOMS = ["value", "a", "b c", "\"q  t\"", ",", "=", "1.0", "application/json", "x;y",
               "Z", "/path", "text/plain; charset=utf-8"]
WS = [" ", "  ", "\t", " \t ", "   "]
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _rand_str(rng, atoms, lo, hi):
    return "".join(rng.choice(atoms) for _ in range(rng.randint(lo, hi)))


def _path(rng):
    if rng.random() < 0.05:
        return "/"
    segs = []
    for _ in range(rng.randint(1, 6)):
        r = rng.random()
        if r < 0.08:
            segs.append("")
        elif r < 0.14:
            segs.append(".")
        elif r < 0.20:
            segs.append("..")
        else:
            raw = _rand_str(rng, SEG_ATOMS, 1, 6)
            safe = PATH_LITERAL if rng.random() < 0.3 else ""
            segs.append(quote(raw, safe=safe))
    p = "/" + "/".join(segs)
    if rng.random() < 0.2:
        p += "/"
    return p


def _query(rng):
    if rng.random() < 0.25:
        return ""
    keys = [_rand_str(rng, QUERY_ATOMS, 1, 4) for _ in range(rng.randint(1, 3))]
    parts = []
    for _ in range(rng.randint(1, 6)):
        k = quote(rng.choice(keys), safe="-_.~")
        r = rng.random()
        if r < 0.15:
            parts.append(k)  # no '='
        elif r < 0.3:
            parts.append(k + "=")  # empty value
        else:
            parts.append(k + "=" + quote(_rand_str(rng, QUERY_ATOMS, 0, 5), safe="-_.~"))
    return "&".join(parts)


def _value(rng):
    words = [rng.choice(VALUE_ATOMS) for _ in range(rng.randint(0, 4))]
    v = ""
    for w in words:
        v += rng.choice(WS) if v and rng.random() < 0.5 else (" " if v else "")
        v += w
    if rng.random() < 0.4:
        v = rng.choice(WS) + v
    if rng.random() < 0.4:
        v = v + rng.choice(WS)
    return v


def random_credentials(rng):
    c = {
        "access_key_id": "AKID" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                                          for _ in range(16)),
        "secret_access_key": "".join(rng.choice(B64) for _ in range(40)),
    }
    if rng.random() < 0.5:
        c["token"] = "".join(rng.choice(B64) for _ in range(rng.randint(20, 300))) + "=="
    return c


def random_request(rng, creds_pool=None, time_range=(1420070400, 1893456000)):
    """A random request; credentials are drawn from creds_pool when given (a daemon signs
    with a handful of credential sets), otherwise fresh ones are made."""
    service = rng.choice(SERVICES)
    s3 = service == "s3"
    host = rng.choice(["example.amazonaws.com", "bucket.s3.us-east-1.amazonaws.com",
                       "localhost:4566", "sqs.eu-west-1.amazonaws.com"])
    headers = [[rng.choice(["Host", "host", "HOST"]), host]]
    for _ in range(rng.randint(0, 5)):
        name = rng.choice(HEADER_NAMES + (SKIPPED if rng.random() < 0.3 else []))
        if rng.random() < 0.3:
            name = name.upper() if rng.random() < 0.5 else name.lower()
        headers.append([name, _value(rng)])
    rng.shuffle(headers)
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD"])
    body = ""
    if method in ("POST", "PUT") and rng.random() < 0.8:
        body = _rand_str(rng, ["Action=Send", "&", "x", "é", "ሴ", " ", "\n", "{}", "0"], 0, 30)
    req = {
        "method": method,
        "path": _path(rng),
        "query": _query(rng),
        "headers": headers,
        "body": body,
        "region": rng.choice(REGIONS),
        "service": service,
        "time": rng.randint(*time_range),
        "s3": s3,
    }
    req.update(rng.choice(creds_pool) if creds_pool else random_credentials(rng))
    if rng.random() < 0.25:
        req["unsigned_payload"] = True
        req["sign_body_header"] = True  # botocore signs X-Amz-Content-SHA256: UNSIGNED-PAYLOAD
    return req


class _S3Config:
    def __init__(self, signed):
        self.s3 = {"payload_signing_enabled": signed}


def botocore_prepare(req):
    """An AWSRequest plus its signer, ready for botocore_sign."""
    url = "https://" + req["headers"][0][1] + req["path"]
    for name, value in req["headers"]:
        if name.lower() == "host":
            url = "https://" + value + req["path"]
    if req["query"]:
        url += "?" + req["query"]
    r = AWSRequest(method=req["method"], url=url, data=req["body"].encode("utf-8"))
    for name, value in req["headers"]:
        r.headers[name] = value
    creds = Credentials(req["access_key_id"], req["secret_access_key"], req.get("token"))
    if req["s3"]:
        auth = S3SigV4Auth(creds, req["service"], req["region"])
        r.context["client_config"] = _S3Config(not req.get("unsigned_payload", False))
    else:
        auth = SigV4Auth(creds, req["service"], req["region"])
        if req.get("unsigned_payload"):
            r.context["payload_signing_enabled"] = False
    return r, auth


def botocore_sign(r, auth, epoch):
    """botocore's add_auth with the clock frozen at epoch; returns the Authorization value."""
    import time
    r.context["timestamp"] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))
    auth._modify_request_before_signing(r)
    cr = auth.canonical_request(r)
    sts = auth.string_to_sign(r, cr)
    sig = auth.signature(sts, r)
    auth._inject_signature_to_request(r, sig)
    return r.headers["Authorization"]
