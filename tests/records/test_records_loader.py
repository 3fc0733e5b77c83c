"""JSON input: example files, schema errors by field path (never the value), JSON hazards, seal images."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from civiccert.errors import ReasonCode, RecordError
from civiccert.records import (
    MAX_INPUT_BYTES,
    OptionalItem,
    ResidentRecord,
    SealCertificate,
    load_record,
    loads_record,
    record_schema,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "records"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def _error(source: Any, **kwargs: Any) -> RecordError:
    with pytest.raises(RecordError) as info:
        load_record(source, **kwargs)
    return info.value


def test_there_are_three_examples() -> None:
    assert {p.name for p in EXAMPLE_FILES} == {
        "household-matsudo.json",
        "household-foreign.json",
        "seal-registrant.json",
    }


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_loads(path: Path) -> None:
    record = load_record(path)
    expected = SealCertificate if path.name.startswith("seal") else ResidentRecord
    assert isinstance(record, expected)


def test_matsudo_example_has_four_members_former_surname_and_ext_b() -> None:
    record = load_record(EXAMPLES / "household-matsudo.json")
    assert isinstance(record, ResidentRecord)
    assert record.municipality.code == "122076"
    assert len(record.members) == 4
    assert any(m.former_surname for m in record.members)
    assert any("\U00020bb7" in m.name for m in record.members)
    assert any(m.name_kana is None for m in record.members)


def test_foreign_example_has_a_mid_long_term_resident() -> None:
    record = load_record(EXAMPLES / "household-foreign.json")
    assert isinstance(record, ResidentRecord)
    foreign = [m.foreign for m in record.members if m.foreign is not None]
    assert foreign
    assert foreign[0].status_of_residence == "技術・人文知識・国際業務"


def test_seal_example_reads_the_png_next_to_it() -> None:
    record = load_record(EXAMPLES / "seal-registrant.json")
    assert isinstance(record, SealCertificate)
    assert record.seal.png == (EXAMPLES / "seal-registrant.png").read_bytes()


def test_seal_image_as_base64() -> None:
    doc = _example("seal-registrant.json")
    png = (EXAMPLES / "seal-registrant.png").read_bytes()
    doc["seal"]["image"] = {"base64": base64.b64encode(png).decode()}
    record = load_record(doc)
    assert isinstance(record, SealCertificate)
    assert record.seal.png == png


def test_bad_base64_is_field_invalid() -> None:
    doc = _example("seal-registrant.json")
    doc["seal"]["image"] = {"base64": "not base64!"}
    error = _error(doc)
    assert (error.code, error.field) == (ReasonCode.FIELD_INVALID, "seal.image.base64")


@pytest.mark.parametrize("path", ["../seal-registrant.png", "/etc/passwd", "missing.png"])
def test_seal_path_must_be_a_readable_file_inside_the_folder(path: str) -> None:
    doc = _example("seal-registrant.json")
    doc["seal"]["image"] = {"path": path}
    error = _error(doc, base_dir=EXAMPLES)
    assert (error.code, error.field) == (ReasonCode.FIELD_INVALID, "seal.image.path")


def test_seal_path_from_a_mapping_needs_base_dir() -> None:
    error = _error(_example("seal-registrant.json"))
    assert (error.code, error.field) == (ReasonCode.FIELD_INVALID, "seal.image.path")


def test_schema_violation_names_the_field_and_never_the_value() -> None:
    doc = _example("household-matsudo.json")
    doc["members"][1]["individual_number"] = "SECRET-4321"
    error = _error(doc)
    assert (error.code, error.field) == (ReasonCode.SCHEMA_VIOLATION, "members[1].individual_number")
    assert "SECRET-4321" not in str(error)
    doc = _example("household-matsudo.json")
    doc["members"][2]["birth_date"] = "15 Feb 1980 見本"
    error = _error(doc)
    assert (error.code, error.field) == (ReasonCode.SCHEMA_VIOLATION, "members[2].birth_date")
    assert "見本" not in str(error)


def test_missing_and_unknown_properties_are_named() -> None:
    doc = _example("household-matsudo.json")
    del doc["members"][3]["sex"]
    assert _error(doc).field == "members[3].sex"
    doc = _example("household-matsudo.json")
    doc["members"][0]["blood_type"] = "A"
    error = _error(doc)
    assert (error.code, error.field) == (ReasonCode.SCHEMA_VIOLATION, "members[0].blood_type")


def test_wrong_type_is_a_schema_violation() -> None:
    doc = _example("household-matsudo.json")
    doc["household"]["address"] = 42
    error = _error(doc)
    assert (error.code, error.field) == (ReasonCode.SCHEMA_VIOLATION, "household.address")


@pytest.mark.parametrize(("key", "value"), [("type", "passport"), ("format", "civiccert-record/2")])
def test_unknown_type_or_format_is_rejected(key: str, value: str) -> None:
    doc = _example("household-matsudo.json")
    doc[key] = value
    error = _error(doc)
    assert (error.code, error.field) == (ReasonCode.SCHEMA_VIOLATION, key)


def test_domain_errors_are_named_from_the_top() -> None:
    doc = _example("household-matsudo.json")
    doc["members"][2]["name"] = "見本　か\u3099く"
    error = _error(doc)
    assert (error.code, error.field) == (ReasonCode.TEXT_NOT_NFC, "members[2].name")
    doc = _example("household-foreign.json")
    doc["members"][1]["foreign"]["period_expires"] = "2030-02-30"
    error = _error(doc)
    assert (error.code, error.field) == (ReasonCode.DATE_INVALID, "members[1].foreign.period_expires")
    doc = _example("household-foreign.json")
    doc["members"][1]["honseki"] = "東京都千代田区見本一丁目1番地"
    doc["members"][1]["hitto"] = "見本　太郎"
    error = _error(doc)
    assert (error.code, error.field) == (ReasonCode.ITEM_NOT_APPLICABLE, "members[1].honseki")


def test_request_rules_apply_to_json_input() -> None:
    doc = _example("household-matsudo.json")
    doc["request"] = {"requester": "third_party", "include": ["individual_number"]}
    error = _error(doc)
    assert (error.code, error.field) == (ReasonCode.ITEM_NOT_PERMITTED, "request.include")
    doc["request"] = {"requester": "self", "members": [1, 1]}
    assert _error(doc).code is ReasonCode.MEMBER_SELECTION_INVALID
    doc["request"] = {"requester": "self", "members": [4]}
    assert _error(doc).code is ReasonCode.MEMBER_SELECTION_INVALID
    doc["request"] = {"requester": "self", "members": [0, 3], "include": ["individual_number", "honseki"]}
    record = load_record(doc)
    assert isinstance(record, ResidentRecord)
    assert record.omitted == (OptionalItem.HOUSEHOLDER_RELATIONSHIP, OptionalItem.RESIDENT_CODE)


def test_duplicate_keys_are_rejected() -> None:
    text = (EXAMPLES / "household-matsudo.json").read_text(encoding="utf-8")
    duplicated = text.replace('"type": "resident_record",', '"type": "resident_record",\n  "type": "resident_record",')
    assert duplicated != text
    with pytest.raises(RecordError) as info:
        loads_record(duplicated)
    assert info.value.code is ReasonCode.JSON_DUPLICATE_KEY


@pytest.mark.parametrize("data", [b"{", b"\xff\xfe{}", b'{"a": NaN}', b"\xef\xbb\xbf{}", b"[" * 100000])
def test_malformed_json_is_rejected(data: bytes) -> None:
    with pytest.raises(RecordError) as info:
        loads_record(data)
    assert info.value.code is ReasonCode.JSON_INVALID


def test_non_object_json_is_a_schema_violation() -> None:
    with pytest.raises(RecordError) as info:
        loads_record(b"[]")
    assert info.value.code is ReasonCode.SCHEMA_VIOLATION


def test_oversized_input_is_rejected_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_INPUT_BYTES + 1))
    assert _error(big).code is ReasonCode.INPUT_TOO_LARGE


def test_schemas_are_shipped_and_valid_draft_2020_12() -> None:
    for record_type in ("resident_record", "seal_certificate"):
        schema = record_schema(record_type)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["type"] == {"const": record_type}


def test_loading_does_not_modify_the_input_mapping() -> None:
    doc = _example("household-foreign.json")
    before = copy.deepcopy(doc)
    load_record(doc)
    assert doc == before
