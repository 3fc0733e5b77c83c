"""The domain: what a municipality certifies, validated on construction (no crypto, no network).

``ResidentRecord`` (住民票の写し) and ``SealCertificate`` (印鑑登録証明書) are frozen dataclasses that raise
:class:`~civiccert.errors.RecordError` on any rule they break; ``load_record`` reads the JSON input format.
The loader's names load on first use (PEP 562): its JSON Schema validator is needed to issue, never to verify.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from civiccert.records.codes import (
    Municipality,
    check_individual_number,
    check_municipality_code,
    check_residence_card_number,
    check_resident_code,
    individual_number_check_digit,
    municipality_check_digit,
)
from civiccert.records.juminhyo import (
    HOUSEHOLDER_RELATIONSHIP,
    NAME_KANA_NOT_RECORDED_JA,
    CopyRequest,
    ForeignResident,
    Member,
    OptionalItem,
    Requester,
    ResidenceCategory,
    ResidentRecord,
    Sex,
)
from civiccert.records.seal import (
    MAX_SEAL_BYTES,
    MAX_SEAL_PIXELS,
    MAX_SEAL_SIZE_MM,
    MIN_SEAL_PIXELS,
    MIN_SEAL_SIZE_MM,
    SealCertificate,
    SealImpression,
    SealRegistrant,
)
from civiccert.records.text import (
    DEFAULT_MAX_LENGTH,
    check_choice,
    check_kana,
    check_optional_text,
    check_text,
)
from civiccert.records.wareki import (
    ERAS,
    JST,
    MIN_DATE,
    Era,
    check_date,
    check_issued_at,
    check_optional_date,
    parse_wareki,
    to_wareki,
)

if TYPE_CHECKING:
    from civiccert.records.loader import (
        FORMAT,
        MAX_INPUT_BYTES,
        RECORD_TYPES,
        load_record,
        loads_record,
        record_schema,
    )

_FROM_LOADER = frozenset(("FORMAT", "MAX_INPUT_BYTES", "RECORD_TYPES", "load_record", "loads_record", "record_schema"))


def __getattr__(name: str) -> Any:
    if name not in _FROM_LOADER:
        raise AttributeError(f"module 'civiccert.records' has no attribute {name!r}")
    value = getattr(importlib.import_module("civiccert.records.loader"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "DEFAULT_MAX_LENGTH",
    "ERAS",
    "FORMAT",
    "HOUSEHOLDER_RELATIONSHIP",
    "JST",
    "MAX_INPUT_BYTES",
    "MAX_SEAL_BYTES",
    "MAX_SEAL_PIXELS",
    "MAX_SEAL_SIZE_MM",
    "MIN_DATE",
    "MIN_SEAL_PIXELS",
    "MIN_SEAL_SIZE_MM",
    "NAME_KANA_NOT_RECORDED_JA",
    "RECORD_TYPES",
    "CopyRequest",
    "Era",
    "ForeignResident",
    "Member",
    "Municipality",
    "OptionalItem",
    "Requester",
    "ResidenceCategory",
    "ResidentRecord",
    "SealCertificate",
    "SealImpression",
    "SealRegistrant",
    "Sex",
    "check_choice",
    "check_date",
    "check_individual_number",
    "check_issued_at",
    "check_kana",
    "check_municipality_code",
    "check_optional_date",
    "check_optional_text",
    "check_residence_card_number",
    "check_resident_code",
    "check_text",
    "individual_number_check_digit",
    "load_record",
    "loads_record",
    "municipality_check_digit",
    "parse_wareki",
    "record_schema",
    "to_wareki",
]
