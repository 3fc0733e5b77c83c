"""DCQL (OpenID4VP 1.0 §6) for our two credential types: build a query, and check a presentation against it.

A relying party names the claims it needs (``household.address``, ``members[0].name``); the query asks for
exactly those of one ``dc+sd-jwt`` credential of the given type, so a wallet discloses nothing else. The
check is ours, after the verifier: every requested path must be present among the disclosed claims.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from civiccert.credentials.claims import VCT_RESIDENT_RECORD, VCT_SEAL_CERTIFICATE
from civiccert.errors import ReasonCode, RecordError

__all__ = ["QUERY_ID", "TYPES", "build_query", "missing_claims"]

QUERY_ID = "certificate"
TYPES = {"juminhyo": VCT_RESIDENT_RECORD, "inkan-toroku": VCT_SEAL_CERTIFICATE}
_SEGMENT = re.compile(r"([a-z_]+)(?:\[(\d+|\*)\])?")


def _path(text: str) -> list[str | int | None]:
    """``members[0].name`` -> ``["members", 0, "name"]``; ``[*]`` is DCQL's ``null`` (every element)."""
    path: list[str | int | None] = []
    for part in text.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None:
            raise RecordError(ReasonCode.FIELD_INVALID, "a claim path is malformed", field="claims")
        path.append(match.group(1))
        if match.group(2) is not None:
            path.append(None if match.group(2) == "*" else int(match.group(2)))
    return path


def build_query(credential_type: str, claims: Sequence[str]) -> dict[str, Any]:
    """The DCQL query for ``claims`` (dotted paths) of one credential of ``credential_type``."""
    vct = TYPES.get(credential_type)
    if vct is None:
        raise RecordError(ReasonCode.FIELD_INVALID, "credential_type must be one of " + ", ".join(TYPES),
                          field="credential_type")  # fmt: skip
    if not claims or not all(isinstance(c, str) for c in claims):
        raise RecordError(ReasonCode.FIELD_INVALID, "claims must name at least one claim path", field="claims")
    return {"credentials": [{"id": QUERY_ID, "format": "dc+sd-jwt", "meta": {"vct_values": [vct]},
                             "claims": [{"path": _path(c)} for c in claims]}]}  # fmt: skip


def missing_claims(query: dict[str, Any], vct: str | None, disclosed: dict[str, Any]) -> list[list[Any]]:
    """The requested paths absent from ``disclosed`` (all of them when the type differs)."""
    wanted = query["credentials"][0]
    paths: list[list[Any]] = [c["path"] for c in wanted["claims"]]
    if vct not in wanted["meta"]["vct_values"]:
        return paths
    return [p for p in paths if not _present(disclosed, p)]


def _present(value: Any, path: Sequence[Any]) -> bool:
    if not path:
        return True
    head, rest = path[0], path[1:]
    if head is None:
        return isinstance(value, list) and bool(value) and all(_present(v, rest) for v in value)
    if isinstance(head, int):
        return isinstance(value, list) and 0 <= head < len(value) and _present(value[head], rest)
    return isinstance(value, dict) and head in value and _present(value[head], rest)
