"""The holder's side: choose disclosures by path and optionally bind the presentation to a key."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from civiccert.credentials._sdcore import (
    ARRAY_DIGEST_KEY,
    KB_JWT_TYP,
    SD_ALG_KEY,
    SD_DIGESTS_KEY,
    _digest,
    split,
    unverified_payload,
)
from civiccert.credentials.b64url import b64url_decode
from civiccert.credentials.jose import sign_compact
from civiccert.credentials.signatures import Signer
from civiccert.credentials.strictjson import json_dumps, json_parse
from civiccert.errors import CredentialError, ReasonCode

_ANY = "*"  # one path segment, key or index


class _AnyIndex:
    __slots__ = ()


_ANY_INDEX = _AnyIndex()
Segment: TypeAlias = str | int
PatternSegment: TypeAlias = str | int | _AnyIndex


def _parse_path(text: str) -> tuple[PatternSegment, ...]:
    if not isinstance(text, str) or not text:
        raise ValueError("a disclosure path is a non-empty string")
    segments: list[PatternSegment] = []
    for part in text.split("."):
        name, bracket, rest = part.partition("[")
        if not name or "]" in name:
            raise ValueError(f"bad disclosure path {text!r}")
        segments.append(name)
        rest = bracket + rest
        while rest:
            if not rest.startswith("[") or "]" not in rest:
                raise ValueError(f"bad disclosure path {text!r}")
            index, _, rest = rest[1:].partition("]")
            if index == "*":
                segments.append(_ANY_INDEX)
            elif index.isdigit() and index.isascii():
                segments.append(int(index))
            else:
                raise ValueError(f"bad disclosure path {text!r}")
    return tuple(segments)


def _segment_matches(pattern: PatternSegment, segment: Segment) -> bool:
    if pattern == _ANY:
        return True
    if pattern is _ANY_INDEX:
        return isinstance(segment, int)
    return type(pattern) is type(segment) and pattern == segment


def _covers(pattern: tuple[PatternSegment, ...], path: tuple[Segment, ...]) -> bool:
    """True if ``pattern`` names ``path`` or one of its ancestors (naming a node discloses its subtree)."""
    if len(pattern) > len(path):
        return False
    return all(_segment_matches(p, s) for p, s in zip(pattern, path, strict=False))


@dataclass
class _Node:
    path: tuple[Segment, ...]
    disclosure: str | None  # None for plain (always visible) nodes
    parent: _Node | None  # nearest selectively disclosable ancestor


def _index_disclosures(payload: dict[str, Any], disclosures: list[str]) -> list[_Node]:
    """Map every claim the holder can see (plain or disclosable) to its path in the issued claims."""
    by_digest: dict[str, tuple[str, list[Any]]] = {}
    for index, disclosure in enumerate(disclosures):
        content = json_parse(b64url_decode(disclosure, field=f"disclosures[{index}]"), field=f"disclosures[{index}]")
        if not isinstance(content, list) or len(content) not in (2, 3):
            raise CredentialError(ReasonCode.DISCLOSURE_MALFORMED, "not a disclosure", field=f"disclosures[{index}]")
        by_digest[_digest(disclosure)] = (disclosure, content)
    nodes: list[_Node] = []

    def walk(obj: Any, path: tuple[Segment, ...], parent: _Node | None) -> None:
        if isinstance(obj, dict):
            for name, value in obj.items():
                if name == SD_DIGESTS_KEY or (name == SD_ALG_KEY and not path):
                    continue
                node = _Node((*path, name), None, parent)
                nodes.append(node)
                walk(value, node.path, parent)
            for digest in obj.get(SD_DIGESTS_KEY, []):
                found = by_digest.get(digest)
                if found is not None and len(found[1]) == 3:
                    node = _Node((*path, found[1][1]), found[0], parent)
                    nodes.append(node)
                    walk(found[1][2], node.path, node)
        elif isinstance(obj, list):
            position = 0
            for element in obj:
                if isinstance(element, dict) and list(element) == [ARRAY_DIGEST_KEY]:
                    found = by_digest.get(element[ARRAY_DIGEST_KEY])
                    if found is None or len(found[1]) != 2:
                        continue  # a decoy: not a position in the issued array
                    node = _Node((*path, position), found[0], parent)
                    nodes.append(node)
                    walk(found[1][1], node.path, node)
                else:
                    node = _Node((*path, position), None, parent)
                    nodes.append(node)
                    walk(element, node.path, parent)
                position += 1

    walk(payload, (), None)
    return nodes


def present(
    sd_jwt: str,
    disclose: Iterable[str],
    *,
    holder_key: Signer | None = None,
    aud: str | None = None,
    nonce: str | None = None,
    now: float | None = None,
) -> str:
    """A presentation keeping only the disclosures the paths select, plus a KB-JWT if ``holder_key``.

    Paths: ``household.address``, ``members[0].name``, ``members[*].birth_date``, ``registrant.*``, ``*``.
    Naming a claim discloses it with everything under it; disclosing inside a disclosable element or
    object discloses that container too. Indexes count positions in the issued array. A path without
    wildcards that names nothing raises ValueError (likely a typo). The issuer signature is not checked
    here: a wallet runs ``verify`` when it receives the credential.
    """
    if isinstance(disclose, str):
        raise TypeError("disclose is an iterable of paths, not one string")
    if holder_key is not None and (not isinstance(aud, str) or not isinstance(nonce, str)):
        raise ValueError("a key-binding JWT needs aud and nonce")
    jwt, disclosures, kb = split(sd_jwt)
    if kb is not None:
        raise ValueError("present() takes an issued SD-JWT, not a presentation with key binding")
    payload = unverified_payload(sd_jwt)
    nodes = _index_disclosures(payload, disclosures)
    chosen: set[str] = set()
    for text in disclose:
        pattern = _parse_path(text)
        matched = False
        for node in nodes:
            if _covers(pattern, node.path):
                matched = True
                current: _Node | None = node if node.disclosure is not None else node.parent
                while current is not None and current.disclosure not in chosen:
                    chosen.add(current.disclosure)  # type: ignore[arg-type]
                    current = current.parent
        if not matched and _ANY not in pattern and _ANY_INDEX not in pattern:
            raise ValueError(f"disclosure path {text!r} names no claim")
    kept = [d for d in disclosures if d in chosen]
    presentation = "~".join([jwt, *kept, ""])
    if holder_key is None:
        return presentation
    kb_payload = {
        "iat": int(time.time() if now is None else now),
        "aud": aud,
        "nonce": nonce,
        "sd_hash": _digest(presentation),
    }
    return presentation + sign_compact({"typ": KB_JWT_TYP}, json_dumps(kb_payload), holder_key, include_kid=False)

