"""Runs moto's server for the integration tests, with one fix: SigV4 checks use the request
path exactly as the client sent it. moto 5.2.1 rebuilds the path from the decoded URL, so
S3 keys holding characters such as + = & ( ) * ; would fail signature checks that real S3
accepts. Usage: python3 moto_server.py -H 127.0.0.1 -p PORT"""
from urllib.parse import urlparse

import moto.core.authorization as authorization

_check = authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action


def _check_with_raw_path(self, iam_request_cls, resource="*"):
    raw = getattr(self, "raw_path", None)
    if not raw:
        return _check(self, iam_request_cls, resource)
    original = self.uri
    self.uri = urlparse(original)._replace(path=raw).geturl()
    try:
        return _check(self, iam_request_cls, resource)
    finally:
        self.uri = original


authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action = _check_with_raw_path

if __name__ == "__main__":
    from moto.server import main

    main()
