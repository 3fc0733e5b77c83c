"""A status-list publication: signed list tokens (JWT and CWT) and the manifest whose hash is anchored.

Files written to the output directory, ready for any static web server:

    <name>             the statuslist+jwt served at the list URI https://…/status/<name>
    <name>.jwt         the same JWT (for servers that map types by extension)
    <name>.cwt         the CWT form (Accept: application/statuslist+cwt)
    status-lists.json  the manifest: {"format", "municipality", "seq", "published_at",
                       "lists": [{"uri", "jwt_sha256", "cwt_sha256"}]} (exact bytes hashed and anchored)

The manifest sits beside the lists (``<dirname of the list URI>/status-lists.json``), so a verifier holding
a list finds what was anchored with it. One anchor per publication, whatever the number of changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from civiccert.credentials.signatures import Signer
from civiccert.errors import CredentialError, ReasonCode
from civiccert.fileio import write_atomic
from civiccert.status.bits import StatusList
from civiccert.status.token import sign_cwt, sign_jwt

__all__ = ["MANIFEST_FORMAT", "MANIFEST_NAME", "Manifest", "list_name", "manifest_uri", "sign_publication"]

MANIFEST_NAME: Final = "status-lists.json"
MANIFEST_FORMAT: Final = "civiccert-status-lists/1"


def list_name(uri: str) -> str:
    """The file name of a list: the last path segment of its URI (``…/status/1`` -> ``1``)."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    if not name or name.startswith(".") or "\\" in name or name == MANIFEST_NAME:
        raise ValueError("status list uri must end in a plain file name")
    return name


def manifest_uri(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[0] + "/" + MANIFEST_NAME


@dataclass(frozen=True)
class Manifest:
    """A parsed publication manifest; ``root`` = SHA-256 of its exact bytes (what the chain holds)."""

    municipality: str
    seq: int
    published_at: int
    lists: Mapping[str, tuple[str, str]]  # uri -> (jwt sha256 hex, cwt sha256 hex)
    root: bytes

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        try:
            obj = json.loads(data)
            if obj.get("format") != MANIFEST_FORMAT:
                raise ValueError("format")
            lists = {str(e["uri"]): (str(e["jwt_sha256"]), str(e["cwt_sha256"])) for e in obj["lists"]}
            return cls(str(obj["municipality"]), int(obj["seq"]), int(obj["published_at"]), lists,
                       hashlib.sha256(data).digest())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CredentialError(ReasonCode.MALFORMED, "status list manifest is malformed",
                                  field=MANIFEST_NAME) from exc

    def covers(self, uri: str, token_sha256: bytes) -> bool:
        hashes = self.lists.get(uri)
        return hashes is not None and token_sha256.hex() in hashes


@dataclass(frozen=True)
class Publication:
    """What :func:`sign_publication` produced: file name -> bytes, and the manifest."""

    files: Mapping[str, bytes]
    manifest: bytes
    root: bytes

    def write(self, out: Path) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        written = [write_atomic(out / name, data, mode=0o644) for name, data in sorted(self.files.items())]
        written.append(write_atomic(out / MANIFEST_NAME, self.manifest, mode=0o644))
        return written


def sign_publication(lists: Sequence[tuple[str, StatusList]], key: Signer, *, municipality: str, iss: str,
                     seq: int, now: int, valid_seconds: int, ttl: int) -> Publication:
    """Sign every list in both forms and the manifest naming their hashes."""
    files: dict[str, bytes] = {}
    entries: list[dict[str, Any]] = []
    for uri, statuses in lists:
        name = list_name(uri)
        jwt = sign_jwt(statuses, key, sub=uri, iat=now, exp=now + valid_seconds, ttl=ttl, iss=iss).encode("ascii")
        cwt = sign_cwt(statuses, key, sub=uri, iat=now, exp=now + valid_seconds, ttl=ttl, iss=iss)
        files[name] = files[name + ".jwt"] = jwt
        files[name + ".cwt"] = cwt
        entries.append({"uri": uri, "jwt_sha256": hashlib.sha256(jwt).hexdigest(),
                        "cwt_sha256": hashlib.sha256(cwt).hexdigest()})
    manifest = json.dumps({"format": MANIFEST_FORMAT, "municipality": municipality, "seq": seq,
                           "published_at": now, "lists": entries}, sort_keys=True, indent=1).encode("utf-8") + b"\n"
    return Publication(files, manifest, hashlib.sha256(manifest).digest())
