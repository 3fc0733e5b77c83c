"""The official list of 全国地方公共団体コード with names (総務省), shipped as ``municipalities.json``.

A city's code and name are what a verifier shows a business, so an issuer home cannot be created for a code
that is not in the list, nor with a name that is not the official one for its code (``松戸市`` is 122076 and
nothing else). The list's source, version and date are in ``MUNICIPALITIES.md`` beside it;
``scripts/make_municipalities.py`` rebuilds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from civiccert.errors import ReasonCode, RecordError
from civiccert.records.codes import check_municipality_code
from civiccert.records.text import check_text

__all__ = ["OfficialMunicipality", "check_official_municipality", "official_municipality"]

MAX_NAME_LENGTH = 64


@dataclass(frozen=True)
class OfficialMunicipality:
    code: str  # six digits, check digit included
    prefecture: str
    name: str  # as the 総務省 list writes it (a ward of a designated city includes the city: 札幌市中央区)
    kind: str  # municipality | designated_city | ward


@cache
def _entries() -> dict[str, OfficialMunicipality]:
    data = json.loads(resources.files("civiccert.records").joinpath("municipalities.json").read_text("utf-8"))
    return {e["code"]: OfficialMunicipality(e["code"], e["prefecture"], e["name"], e["kind"])
            for e in data["entries"]}


def official_municipality(code: str) -> OfficialMunicipality | None:
    """The official entry for ``code``, or None when the list does not hold it."""
    return _entries().get(code)


def check_official_municipality(code: str, name: str, *, field: str = "municipality") -> OfficialMunicipality:
    """``code`` must be in the official list and ``name`` its official name (also a safe text: non-empty,
    NFC, no control or bidi characters, at most 64 characters). Raises RecordError naming the field."""
    check_municipality_code(code, field=f"{field}_code")
    check_text(name, field=f"{field}_name", max_length=MAX_NAME_LENGTH)
    entry = official_municipality(code)
    if entry is None:
        raise RecordError(ReasonCode.MUNICIPALITY_CODE_INVALID, "not in the official list of municipality codes",
                          field=f"{field}_code")
    if entry.name != name:
        raise RecordError(ReasonCode.MUNICIPALITY_NAME_MISMATCH, "name is not the official name for this code",
                          field=f"{field}_name")
    return entry
