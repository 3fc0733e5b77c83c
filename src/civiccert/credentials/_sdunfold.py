"""The verifier's pure-Python disclosure handling: decode and hash disclosures, apply them to the payload.

RFC 9901 section 7.1 steps 3-5. ``sdjwt.verify`` tries the compiled ``_sdverify_c`` first; this is the
reference it mirrors, and every input it declines (and every error) comes here for its reason code.
"""

from __future__ import annotations

import operator
from typing import Any

from civiccert.credentials._sdcore import (
    _RESERVED_NAMES,
    _STR_TYPE,
    ARRAY_DIGEST_KEY,
    SD_ALG_KEY,
    SD_DIGESTS_KEY,
    _b64_digests,
    _sha256,
)
from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.strictjson import b64url_json_many, json_parse
from civiccert.errors import CredentialError, ReasonCode


def _child(path: str, name: str) -> str:
    """The path of member ``name`` under the formatted path ``path`` (``a.b[0]`` + ``c`` -> ``a.b[0].c``)."""
    return f"{path}.{name}" if path else name


def _where(path: str, position: int | None) -> str:
    return _child(path, SD_DIGESTS_KEY) if position is None else f"{path}[{position}]"


class _Unfolder:
    """Applies disclosures to the signed payload (RFC 9901 §7.1 step 3-5).

    Paths are carried already formatted (``a.b[0].c``) and only for containers: leaves need none.
    Parsed JSON holds exact ``dict``/``list``/``str`` objects, so ``type() is`` checks are enough.
    """

    __slots__ = ("by_digest", "order", "paths", "seen", "used")

    def __init__(self, order: list[str], by_digest: dict[str, list[Any]]) -> None:
        self.order = order  # digests in disclosure order: an error names disclosures[index]
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.used = 0
        self.paths: list[str] = []

    def _claim(self, digest: Any, path: str, position: int | None) -> list[Any] | None:
        """The disclosure ``digest`` names, if sent; ``position`` is None in ``_sd``, else the array index."""
        if type(digest) is not str:
            raise CredentialError(ReasonCode.MALFORMED, "digest is not a string", field=_where(path, position))
        seen = self.seen
        if digest in seen:
            field = _where(path, position)
            raise CredentialError(ReasonCode.DIGEST_DUPLICATE, "digest appears more than once", field=field)
        seen.add(digest)
        found = self.by_digest.get(digest)
        if found is not None:
            self.used += 1
        return found

    def unreferenced(self) -> int | None:
        """Index of the first disclosure no digest in the payload points to, or None."""
        if self.used == len(self.by_digest):
            return None
        seen = self.seen
        return next(i for i, digest in enumerate(self.order) if digest not in seen)

    def unfold(self, obj: Any, path: str) -> Any:
        kind = type(obj)
        if kind is dict:
            return self._object(obj, path)
        if kind is list:
            return self._array(obj, path)
        return obj

    def unfold_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The claims of the top-level payload: like ``unfold`` but without ``_sd_alg``."""
        return self._object(payload, "", top=True)

    def _object(self, obj: dict[str, Any], path: str, top: bool = False) -> dict[str, Any]:
        digests = obj.get(SD_DIGESTS_KEY, ())
        if not isinstance(digests, list | tuple):
            raise CredentialError(ReasonCode.MALFORMED, "_sd is not an array", field=_child(path, SD_DIGESTS_KEY))
        out: dict[str, Any] = {}
        for name, value in obj.items():
            if name == SD_DIGESTS_KEY or (top and name == SD_ALG_KEY):
                continue
            kind = type(value)
            if kind is dict:
                out[name] = self._object(value, _child(path, name))
            elif kind is list:
                out[name] = self._array(value, _child(path, name))
            else:
                out[name] = value
        if not digests:
            return out
        seen, by_digest, paths, prefix = self.seen, self.by_digest, self.paths, f"{path}." if path else ""
        # Fast path, all C-level: every digest a string, none repeated here or seen elsewhere. Then only
        # the digests that name a sent disclosure are visited: withheld claims and decoys are set-checked
        # once, never walked one by one. Otherwise the one-by-one loop raises with the field.
        fresh = set(digests) if set(map(type, digests)) <= _STR_TYPE else None
        if fresh is not None and len(fresh) == len(digests) and seen.isdisjoint(fresh):
            seen.update(fresh)
            sent = list(filter(by_digest.__contains__, digests))
        else:
            sent = self._sent(digests, path)
        for digest in sent:
            found = by_digest[digest]
            self.used += 1
            try:
                _, name, value = found
            except ValueError:
                field = f"disclosures[{self.order.index(digest)}]"
                raise CredentialError(
                    ReasonCode.DISCLOSURE_MALFORMED, "array disclosure used for a claim", field=field
                ) from None
            claim_path = prefix + name
            if name in out:
                raise CredentialError(ReasonCode.CLAIM_OVERWRITE, "disclosed claim already exists", field=claim_path)
            paths.append(claim_path)
            kind = type(value)
            if kind is dict:
                out[name] = self._object(value, claim_path)
            elif kind is list:
                out[name] = self._array(value, claim_path)
            else:
                out[name] = value
        return out

    def _sent(self, digests: list[Any] | tuple[Any, ...], path: str) -> list[str]:
        """The digests of an ``_sd`` array that name a sent disclosure, checking each one in turn."""
        sent = []
        for digest in digests:
            if self._claim(digest, path, None) is not None:  # raises MALFORMED or DIGEST_DUPLICATE
                self.used -= 1  # counted by the caller, once per claim it applies
                sent.append(digest)
        return sent

    def _array(self, obj: list[Any], path: str) -> list[Any]:
        out: list[Any] = []
        for element in obj:
            if type(element) is dict and len(element) == 1 and ARRAY_DIGEST_KEY in element:
                position = len(out)
                digest = element[ARRAY_DIGEST_KEY]
                content = self._claim(digest, path, position)
                if content is None:
                    continue
                if len(content) != 2:
                    raise CredentialError(
                        ReasonCode.DISCLOSURE_MALFORMED,
                        "claim disclosure used for an array element",
                        field=f"disclosures[{self.order.index(digest)}]",
                    )
                element_path = f"{path}[{position}]"
                self.paths.append(element_path)
                out.append(self.unfold(content[1], element_path))
            else:
                out.append(self.unfold(element, f"{path}[{len(out)}]") if type(element) in _CONTAINERS else element)
        return out


_CONTAINERS = frozenset({dict, list})


_raw_digest = operator.methodcaller("digest")


def _digests(disclosures: list[str]) -> list[str]:
    """base64url(SHA-256) of each disclosure (C-level maps: this runs once per disclosure)."""
    return _b64_digests(list(map(_raw_digest, map(_sha256, map(str.encode, disclosures)))))


def _decode_disclosures_py(disclosures: list[str]) -> tuple[list[str], dict[str, list[Any]]]:
    """``_decode_disclosures`` without the compiled path: C-level maps, else the one-by-one loop."""
    contents = b64url_json_many(disclosures)
    if contents is None:
        return _decode_disclosures_one_by_one(disclosures)
    digests = _digests(disclosures)
    table = _table(digests, contents)
    return (digests, table) if table is not None else _decode_disclosures_one_by_one(disclosures)


def _table(digests: list[str], contents: list[Any]) -> dict[str, list[Any]] | None:
    """``digest -> content`` when every content is a well-formed disclosure and no digest repeats, else None.

    The batched checks (C-level ``map``/``set`` over all disclosures) accept exactly what the one-by-one
    loop accepts; on any doubt that loop runs and raises with the right code and index.
    """
    if (
        not set(map(type, contents)) <= _LIST_TYPE
        or not set(map(len, contents)) <= _DISCLOSURE_LENGTHS
        or not set(map(type, map(_first, contents))) <= _STR_TYPE
        or len(set(digests)) != len(digests)
    ):
        return None
    names = [content[1] for content in contents if len(content) == 3]
    if not set(map(type, names)) <= _STR_TYPE or not _RESERVED_NAMES.isdisjoint(names):
        return None
    return dict(zip(digests, contents, strict=True))


_LIST_TYPE = frozenset({list})
_DISCLOSURE_LENGTHS = frozenset({2, 3})
_first = operator.itemgetter(0)


def _decode_disclosures_one_by_one(disclosures: list[str]) -> tuple[list[str], dict[str, list[Any]]]:
    by_digest: dict[str, list[Any]] = {}
    for index, disclosure in enumerate(disclosures):
        try:
            content = json_parse(b64url_decode(disclosure))
        except CredentialError as exc:
            raise CredentialError(exc.code, exc.message, field=f"disclosures[{index}]") from None
        if type(content) is not list or len(content) not in (2, 3) or type(content[0]) is not str:
            field = f"disclosures[{index}]"
            raise CredentialError(ReasonCode.DISCLOSURE_MALFORMED, "not a [salt, (name,) value] array", field=field)
        if len(content) == 3:
            if type(content[1]) is not str:
                field = f"disclosures[{index}]"
                raise CredentialError(ReasonCode.DISCLOSURE_MALFORMED, "claim name is not a string", field=field)
            if content[1] in _RESERVED_NAMES:
                field = f"disclosures[{index}]"
                raise CredentialError(ReasonCode.CLAIM_NAME_RESERVED, "disclosed claim name is reserved", field=field)
        digest = b64url_encode(_sha256(disclosure.encode("ascii")).digest())
        if digest in by_digest:
            field = f"disclosures[{index}]"
            raise CredentialError(ReasonCode.DISCLOSURE_DUPLICATE, "disclosure sent twice", field=field)
        by_digest[digest] = content
    return list(by_digest), by_digest

