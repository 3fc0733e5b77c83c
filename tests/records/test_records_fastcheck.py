"""The compiled record checks (records.fastcheck) agree with jsonschema on every sample and thousands of
mutations of them: a record the fast path accepts is one jsonschema accepts, and the other way round."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

import civiccert as cc
from civiccert.errors import ReasonCode, RecordError
from civiccert.records import loader
from civiccert.records.fastcheck import Undecided, compile_schema

SAMPLES = {"household-matsudo.json": "resident_record", "household-foreign.json": "resident_record",
           "seal-registrant.json": "seal_certificate"}  # fmt: skip
REPLACEMENTS: list[Any] = [None, 0, -1, 1.0, 1.5, True, "", "x", "x" * 300, "２０２６", [], {}, ["a", "a"], {"z": 1}]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))


def _mutations(document: dict[str, Any]) -> Iterator[Any]:
    for path in _paths(document):
        if not path:
            continue
        *parent_path, last = path
        for replacement in [*REPLACEMENTS, "delete", "extra", "duplicate"]:
            mutated = copy.deepcopy(document)
            parent: Any = mutated
            for part in parent_path:
                parent = parent[part]
            if replacement == "delete":
                del parent[last]
            elif replacement == "extra":
                if not isinstance(parent[last], dict):
                    continue
                parent[last]["unexpected"] = "x"
            elif replacement == "duplicate":
                if not isinstance(parent[last], list) or not parent[last]:
                    continue
                parent[last].append(copy.deepcopy(parent[last][0]))
            else:
                parent[last] = copy.deepcopy(replacement)
            yield mutated


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_compiled_checks_agree_with_jsonschema(name: str) -> None:
    record_type = SAMPLES[name]
    fast = loader._fast_check(record_type)
    assert fast is not None, "the shipped schema uses a keyword the compiler refuses: every record pays jsonschema"
    validator = loader._validator(record_type)
    document = json.loads(cc.sample_record_path(name).read_text(encoding="utf-8"))
    assert fast(document)
    assert validator.is_valid(document)
    compared = rejected = 0
    for mutated in _mutations(document):
        try:
            verdict = fast(mutated)
        except Undecided:
            continue
        assert verdict == validator.is_valid(mutated), json.dumps(mutated, ensure_ascii=False)[:300]
        compared += 1
        rejected += not verdict
    assert compared > 200  # the mutations reach the schema's rules
    assert rejected > 100


def test_unknown_keywords_make_the_compiler_refuse() -> None:
    assert compile_schema({"type": "object", "propertyNames": {"maxLength": 3}}) is None
    assert compile_schema({"enum": [1, True]}) is None  # jsonschema's number/bool equality: left to it
    check = compile_schema({"type": "array", "uniqueItems": True})
    assert check is not None
    assert check(["a", "b"])
    assert not check(["a", "a"])
    with pytest.raises(Undecided):
        check([1, True])


def test_invalid_records_still_name_the_field() -> None:
    document = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    document["members"][1]["sex"] = "X"
    with pytest.raises(RecordError) as caught:
        cc.load_record(document)
    assert caught.value.code is ReasonCode.SCHEMA_VIOLATION
    assert caught.value.field == "members[1].sex"
