"""The online status-list fetcher's SSRF rules: refused before any connection is made."""

from __future__ import annotations

import pytest

import civiccert as cc
from civiccert.errors import ReasonCode
from civiccert.status import StatusListSource


@pytest.mark.parametrize(("uri", "allow"), [
    ("http://status.example/1", False),  # plain http
    ("http://127.0.0.1:9/1", False),  # loopback without the development switch
    ("https://127.0.0.1:9/1", False),
    ("https://10.0.0.8/1", True),  # private, even with the switch
    ("https://[::1]:9/1", False),
    ("https://user:pw@status.example/1", False),
    ("ftp://status.example/1", True),
    ("http://169.254.169.254/latest", True),  # link-local over http: the switch is for loopback only
])  # fmt: skip
def test_refused_uris(uri: str, allow: bool) -> None:
    with pytest.raises(cc.CredentialError) as info:
        StatusListSource(fetch=True, allow_loopback_http=allow).get(uri)
    assert info.value.code is ReasonCode.STATUS_FETCH_REFUSED
