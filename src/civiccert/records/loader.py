"""JSON input (``"format": "civiccert-record/1"``) -> :class:`ResidentRecord` | :class:`SealCertificate`.

Order of checks, each with its own reason code: size cap (``INPUT_TOO_LARGE``), well-formed UTF-8 JSON
without duplicate member names (``JSON_INVALID`` / ``JSON_DUPLICATE_KEY``), the shipped JSON Schema for the
declared ``type`` (``SCHEMA_VIOLATION``, with the failing field path), then the domain rules of the record
classes. Errors name the field and the rule, never the value.

A seal image is ``{"path": "seal.png"}`` (relative to the JSON file, or to ``base_dir``, and never outside
it) or ``{"base64": "..."}``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from civiccert.credentials._native import jsonscan as _jsonscan
from civiccert.credentials.strictjson import MAX_JSON_DEPTH, json_parse
from civiccert.errors import CredentialError, ReasonCode, RecordError
from civiccert.extras import ISSUER, missing_extra

try:  # the schema validators are the issuer extra: reading records is issuing, never verifying
    import jsonschema_rs
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError, best_match
except ModuleNotFoundError as exc:
    raise missing_extra(ISSUER) from exc

from civiccert.records.codes import Municipality
from civiccert.records.juminhyo import CopyRequest, ForeignResident, Member, ResidentRecord
from civiccert.records.seal import MAX_SEAL_BYTES, SealCertificate, SealImpression, SealRegistrant

__all__ = [
    "FORMAT",
    "MAX_INPUT_BYTES",
    "RECORD_TYPES",
    "load_record",
    "loads_record",
    "record_schema",
]

FORMAT = "civiccert-record/1"
"""Value of the top-level ``"format"`` member this loader understands."""

MAX_INPUT_BYTES = 2 * 1024 * 1024
"""Size cap of one JSON input (a base64 seal image of 512 KiB fits)."""

RECORD_TYPES: Mapping[str, str] = {
    "resident_record": "resident-record.schema.json",
    "seal_certificate": "seal-certificate.schema.json",
}
"""Top-level ``"type"`` values and the shipped schema file for each."""

_SAFE_KEY_RE = re.compile(r"[a-z_][a-z0-9_]{0,39}")


def load_record(
    source: os.PathLike[str] | Mapping[str, Any], *, base_dir: os.PathLike[str] | None = None
) -> ResidentRecord | SealCertificate:
    """Load and validate one record from a JSON file or an already parsed mapping.

    For a file, seal image paths resolve against the file's folder; for a mapping, against ``base_dir``
    (required only if the mapping refers to an image file). A missing file raises ``RecordError``
    (``INPUT_NOT_FOUND``); other I/O failures on ``source`` raise ``OSError``.
    """
    if isinstance(source, Mapping):
        return _build(source, Path(base_dir) if base_dir is not None else None)
    if not isinstance(source, os.PathLike):
        raise TypeError("source must be a path or a mapping")
    path = Path(source)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise RecordError(ReasonCode.INPUT_NOT_FOUND, "record file not found") from None
    return loads_record(data, base_dir=Path(base_dir) if base_dir is not None else path.parent)


def loads_record(data: bytes | str, *, base_dir: os.PathLike[str] | None = None) -> ResidentRecord | SealCertificate:
    """Load and validate one record from JSON text (e.g. the body of a request from a municipal backend)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not isinstance(raw, bytes):
        raise TypeError("data must be bytes or str")
    if len(raw) > MAX_INPUT_BYTES:
        raise RecordError(ReasonCode.INPUT_TOO_LARGE, f"input exceeds {MAX_INPUT_BYTES} bytes")
    document = _parse_json(raw)
    if not isinstance(document, dict):  # 42, "x", null, [] are well-formed JSON but not a record
        raise RecordError(ReasonCode.SCHEMA_VIOLATION, "input must be a JSON object", field="$")
    return _build(document, Path(base_dir) if base_dir is not None else None)


def record_schema(record_type: str) -> Mapping[str, Any]:
    """The shipped JSON Schema (Draft 2020-12) for ``"resident_record"`` or ``"seal_certificate"``."""
    if record_type not in RECORD_TYPES:
        raise ValueError("unknown record type")
    return copy.deepcopy(_schema(record_type))


# --- JSON -------------------------------------------------------------------------------------------


def _parse_json(raw: bytes) -> Any:
    """The project's one strict JSON parser (duplicates, NaN, deep nesting), with record error codes."""
    try:
        return json_parse(raw, field="$")
    except CredentialError as exc:
        code = ReasonCode.JSON_DUPLICATE_KEY if exc.code is ReasonCode.JSON_DUPLICATE_KEY else ReasonCode.JSON_INVALID
        raise RecordError(code, "input is not well-formed UTF-8 JSON (or repeats a member, or nests too deeply)"
                          ) from None


# --- schema -----------------------------------------------------------------------------------------


@cache
def _schema(record_type: str) -> dict[str, Any]:
    name = RECORD_TYPES[record_type]
    text = resources.files("civiccert").joinpath("schemas").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(record_type: str) -> Draft202012Validator:
    """Compiled once per process; local ``$ref``s are inlined first, since resolving them on every record
    was half of the validation time on the issue path (the schema has no recursive references)."""
    schema = _schema(record_type)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(_inline_refs(schema, schema, ()))


@cache
def _fast_validator(record_type: str) -> jsonschema_rs.Draft202012Validator:
    """The same schema in jsonschema_rs (compiled Rust, ~10x faster): a record it accepts skips jsonschema.

    Formats are annotations in both (as Draft 2020-12 says) and no reference is ever fetched. Its answer is
    used only for plain JSON values (:func:`_plain_json`: it reads a tuple as an array, jsonschema does not),
    and only to accept; tests/records/test_records_schema_rs.py checks that its patterns and types decide as
    jsonschema's do."""
    return jsonschema_rs.Draft202012Validator(_schema(record_type), validate_formats=False, offline=True)


_JSON_LEAVES: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def _plain_json(value: Any, depth: int = 0, leaves: frozenset[type] = _JSON_LEAVES) -> bool:
    """Whether ``value`` holds only what a JSON parser returns (exact ``dict``, ``list``, ``str``, ``int``,
    ``float``, ``bool``, None), nested at most ``MAX_JSON_DEPTH`` deep: what jsonschema_rs reads as jsonschema
    does. Anything else (a tuple, a subclass, a deep mapping from a caller) is left to jsonschema alone.
    ``_jsonscan_c.plain`` is the compiled twin (tests/records/test_records_schema_rs.py compares them)."""
    kind = type(value)
    if kind is dict:
        if depth >= MAX_JSON_DEPTH:
            return False
        for item in value.values():  # noqa: SIM110 - plain loops: no generator per container on the hot path
            if not _plain_json(item, depth + 1):
                return False
        return True
    if kind is list:
        if depth >= MAX_JSON_DEPTH:
            return False
        for item in value:  # noqa: SIM110
            if not _plain_json(item, depth + 1):
                return False
        return True
    return kind in leaves


def _inline_refs(node: Any, root: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    """``node`` with each ``{"$ref": "#/..."}`` replaced by its target (siblings kept beside it in ``allOf``);
    a recursive reference is left as it is."""
    if isinstance(node, list):
        return [_inline_refs(item, root, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        resolved = _inline_refs(target, root, (*seen, ref))
        rest = {k: _inline_refs(v, root, seen) for k, v in node.items() if k != "$ref"}
        return {**rest, "allOf": [resolved]} if rest else resolved
    return {k: v if k in ("const", "enum", "default", "examples") else _inline_refs(v, root, seen)
            for k, v in node.items()}  # fmt: skip


def _path_text(parts: Iterator[str | int] | Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _field_of(error: ValidationError) -> str:
    base = _path_text(error.absolute_path)
    extra: str | None = None
    required = error.validator_value
    if error.validator == "required" and isinstance(error.instance, Mapping) and isinstance(required, list):
        extra = next((name for name in required if name not in error.instance), None)
    elif (
        error.validator == "additionalProperties"
        and isinstance(error.instance, Mapping)
        and isinstance(error.schema, Mapping)
    ):
        allowed = error.schema.get("properties", {})
        unknown = [name for name in error.instance if name not in allowed]
        if unknown and isinstance(unknown[0], str) and _SAFE_KEY_RE.fullmatch(unknown[0]):
            extra = unknown[0]
    if extra is not None:
        return f"{base}.{extra}" if base else extra
    return base or "$"


def _check_schema(document: Any) -> str:
    if not isinstance(document, Mapping):
        raise RecordError(ReasonCode.SCHEMA_VIOLATION, "input must be a JSON object", field="$")
    record_type = document.get("type")
    if not isinstance(record_type, str) or record_type not in RECORD_TYPES:
        raise RecordError(ReasonCode.SCHEMA_VIOLATION, "unknown or missing record type", field="type")
    if (_jsonscan.plain(document, MAX_JSON_DEPTH) if _jsonscan is not None else _plain_json(document)):
        try:
            if _fast_validator(record_type).is_valid(document):
                return record_type
        except ValueError:  # e.g. a lone surrogate or a key that is not a string: jsonschema decides
            pass
    error = best_match(_validator(record_type).iter_errors(document))
    if error is not None:
        raise RecordError(
            ReasonCode.SCHEMA_VIOLATION,
            f"input does not satisfy the schema rule '{error.validator}'",
            field=_field_of(error),
        )
    return record_type


# --- domain -----------------------------------------------------------------------------------------


def _at(prefix: str, exc: RecordError) -> RecordError:
    """A part's RecordError with its field named from the top of the document (a plain ``try`` at the call:
    a context manager per member cost ~2 µs on the issue path)."""
    field = f"{prefix}.{exc.field}" if exc.field else prefix
    return RecordError(exc.code, exc.message, field=field)


def _date(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RecordError(ReasonCode.DATE_INVALID, "date does not exist", field=field) from None


def _required_date(value: str, field: str) -> date:
    parsed = _date(value, field)
    assert parsed is not None
    return parsed


def _datetime(value: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(ReasonCode.DATE_INVALID, "time does not exist", field=field) from None


def _build(document: Mapping[str, Any], base_dir: Path | None) -> ResidentRecord | SealCertificate:
    # jsonschema's "object" and "array" mean dict and list, so compare a plain copy of the mapping
    record_type = _check_schema(dict(document))
    if record_type == "resident_record":
        return _resident_record(document)
    return _seal_certificate(document, base_dir)


def _municipality(doc: Mapping[str, Any]) -> Municipality:
    return Municipality(code=doc["municipality"]["code"], name=doc["municipality"]["name"])


def _foreign(doc: Mapping[str, Any] | None) -> ForeignResident | None:
    """Fields are named relative to the member (``foreign.period_expires``)."""
    if doc is None:
        return None
    return ForeignResident(
        nationality=doc["nationality"],
        category=doc["category"],
        status_of_residence=doc.get("status_of_residence"),
        period_of_stay=doc.get("period_of_stay"),
        period_expires=_date(doc.get("period_expires"), "foreign.period_expires"),
        residence_card_number=doc.get("residence_card_number"),
    )


def _member(doc: Mapping[str, Any], index: int) -> Member:
    try:
        return Member(
            name=doc["name"],
            name_kana=doc["name_kana"],
            birth_date=_required_date(doc["birth_date"], "birth_date"),
            sex=doc["sex"],
            relationship=doc["relationship"],
            resident_since=_required_date(doc["resident_since"], "resident_since"),
            former_surname=doc.get("former_surname"),
            common_name=doc.get("common_name"),
            address_since=_date(doc.get("address_since"), "address_since"),
            notified_on=_date(doc.get("notified_on"), "notified_on"),
            previous_address=doc.get("previous_address"),
            honseki=doc.get("honseki"),
            hitto=doc.get("hitto"),
            individual_number=doc.get("individual_number"),
            resident_code=doc.get("resident_code"),
            foreign=_foreign(doc.get("foreign")),
        )
    except RecordError as exc:
        raise _at(f"members[{index}]", exc) from None


def _resident_record(doc: Mapping[str, Any]) -> ResidentRecord:
    request_doc = doc["request"]
    selection = request_doc.get("members")
    request = CopyRequest(
        requester=request_doc["requester"],
        members=tuple(selection) if selection is not None else None,
        include=frozenset(request_doc.get("include", ())),
    )
    household = doc["household"]
    return ResidentRecord(
        municipality=_municipality(doc),
        serial=doc["certificate"]["serial"],
        issued_at=_datetime(doc["certificate"]["issued_at"], "certificate.issued_at"),
        address=household["address"],
        address_extra=household.get("address_extra"),
        householder=household["householder"],
        members=tuple([_member(m, i) for i, m in enumerate(doc["members"])]),
        request=request,
    )


def _seal_png(image: Mapping[str, Any], base_dir: Path | None) -> bytes:
    if "base64" in image:
        try:
            return base64.b64decode(image["base64"], validate=True)
        except (binascii.Error, ValueError):
            raise RecordError(
                ReasonCode.FIELD_INVALID, "seal image is not valid base64", field="seal.image.base64"
            ) from None
    field = "seal.image.path"
    if base_dir is None:
        raise RecordError(ReasonCode.FIELD_INVALID, "an image path needs a base folder", field=field)
    relative = Path(image["path"])
    root = base_dir.resolve()
    target = (root / relative).resolve()
    if relative.is_absolute() or not target.is_relative_to(root):
        raise RecordError(ReasonCode.FIELD_INVALID, "image path must stay inside the input folder", field=field)
    try:
        with target.open("rb") as handle:
            png = handle.read(MAX_SEAL_BYTES + 1)
    except OSError:
        raise RecordError(ReasonCode.FIELD_INVALID, "seal image file cannot be read", field=field) from None
    if len(png) > MAX_SEAL_BYTES:
        raise RecordError(ReasonCode.SEAL_IMAGE_SIZE, "seal image exceeds 512 KiB", field=field)
    return png


def _seal_certificate(doc: Mapping[str, Any], base_dir: Path | None) -> SealCertificate:
    person = doc["registrant"]
    seal = doc["seal"]
    return SealCertificate(
        municipality=_municipality(doc),
        serial=doc["certificate"]["serial"],
        issued_at=_datetime(doc["certificate"]["issued_at"], "certificate.issued_at"),
        registrant=SealRegistrant(
            name=person["name"],
            birth_date=_required_date(person["birth_date"], "registrant.birth_date"),
            sex=person["sex"],
            address=person["address"],
            former_surname=person.get("former_surname"),
            common_name=person.get("common_name"),
        ),
        seal=SealImpression(png=_seal_png(seal["image"], base_dir), size_mm=seal["size_mm"]),
    )
