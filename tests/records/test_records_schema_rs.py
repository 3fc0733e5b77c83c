"""The compiled schema check (jsonschema_rs) never accepts a record jsonschema rejects: on every sample, thousands
of mutations of them, random mutations (hypothesis), values that are not plain JSON, and strings at the edges of
every ``pattern`` in the shipped schemas. jsonschema stays the authority on any failure and names the field."""

from __future__ import annotations

import contextlib
import copy
import decimal
import json
import re
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import civiccert as cc
from civiccert.credentials import _native
from civiccert.errors import ReasonCode, RecordError
from civiccert.records import loader

SAMPLES = {"household-matsudo.json": "resident_record", "household-foreign.json": "resident_record",
           "seal-registrant.json": "seal_certificate"}  # fmt: skip
REPLACEMENTS: list[Any] = [None, 0, -1, 1.0, -0.0, 1.5, 2**70, True, "", "x", "x" * 300, "２０２６", "2026-01-01\n",
                           "123456789012\n", "\n", [], {}, ["a", "a"], [1, True], {"z": 1}]  # fmt: skip


def _sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(cc.sample_record_path(name).read_text(encoding="utf-8"))
    return document


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))


def _replaced(document: dict[str, Any], path: tuple[Any, ...], replacement: Any) -> dict[str, Any] | None:
    mutated = copy.deepcopy(document)
    *parent_path, last = path
    parent: Any = mutated
    for part in parent_path:
        parent = parent[part]
    if replacement == "delete":
        del parent[last]
    elif replacement == "extra":
        if not isinstance(parent[last], dict):
            return None
        parent[last]["unexpected"] = "x"
    elif replacement == "duplicate":
        if not isinstance(parent[last], list) or not parent[last]:
            return None
        parent[last].append(copy.deepcopy(parent[last][0]))
    else:
        parent[last] = copy.deepcopy(replacement)
    return mutated


def _mutations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in _paths(document):
        if path:
            for replacement in [*REPLACEMENTS, "delete", "extra", "duplicate"]:
                mutated = _replaced(document, path, replacement)
                if mutated is not None:
                    yield mutated


def _decides_as_jsonschema(record_type: str, document: Any) -> bool:
    """The loader's schema decision equals jsonschema's, and jsonschema_rs alone never accepts what it rejects."""
    authority = loader._validator(record_type).is_valid(document)
    code = None
    try:
        loader._check_schema(document)
    except RecordError as exc:
        code = exc.code
    accepted = code is None
    assert code in (None, ReasonCode.SCHEMA_VIOLATION)
    assert accepted == authority, json.dumps(document, ensure_ascii=False, default=repr)[:300]
    if loader._plain_json(document):
        with contextlib.suppress(ValueError):  # jsonschema_rs cannot read it: jsonschema alone decides
            assert not loader._fast_validator(record_type).is_valid(document) or authority
    return authority


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_compiled_check_agrees_with_jsonschema(name: str) -> None:
    record_type = SAMPLES[name]
    document = _sample(name)
    assert loader._fast_validator(record_type).is_valid(document)
    compared = rejected = 0
    for mutated in _mutations(document):
        rejected += not _decides_as_jsonschema(record_type, mutated)
        compared += 1
    assert compared > 300  # the mutations reach the schema's rules
    assert rejected > 150


def _json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=14),
    _json_containers,
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(SAMPLES)), pick=st.integers(min_value=0), value=_JSON)
def test_random_mutations_decide_as_jsonschema(name: str, pick: int, value: Any) -> None:
    document = _sample(name)
    paths = [p for p in _paths(document) if p]
    mutated = _replaced(document, paths[pick % len(paths)], value)
    assert mutated is not None
    _decides_as_jsonschema(SAMPLES[name], mutated)


class _Text(str):
    pass


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("members",), "tuple"),  # jsonschema_rs reads a tuple as an array, jsonschema does not
        (("request", "include"), ("relationship",)),
        (("request", "members"), [decimal.Decimal(1)]),
        (("request", "members"), [float("nan")]),
        (("request", "members"), [True]),
        (("request", "members"), [2**80]),
        (("certificate", "serial"), _Text("x")),
        (("certificate", "serial"), "x\ud800"),  # a lone surrogate: jsonschema_rs cannot read it
        (("household",), OrderedDict([("address", "x"), ("householder", "y")])),
        (("household", 7), "x"),  # a key that is not a string
    ],
)
def test_values_that_are_not_plain_json_decide_as_jsonschema(path: tuple[Any, ...], value: Any) -> None:
    document = _sample("household-matsudo.json")
    if value == "tuple":
        value = tuple(document["members"])
    if path == ("household", 7):
        document["household"][7] = value
    else:
        mutated = _replaced(document, path, value)
        assert mutated is not None
        document = mutated
    _decides_as_jsonschema("resident_record", document)


def test_a_tuple_is_not_an_array() -> None:
    document = _sample("household-matsudo.json")
    document["members"] = tuple(document["members"])
    assert jsonschema_rs.Draft202012Validator({"type": "array"}).is_valid(())  # why _plain_json exists
    with pytest.raises(RecordError) as caught:
        cc.load_record(document)
    assert caught.value.code is ReasonCode.SCHEMA_VIOLATION
    assert caught.value.field == "members"


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern":
                yield value
            elif key not in ("enum", "const"):
                yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


PATTERNS = sorted({p for t in loader.RECORD_TYPES for p in _patterns(loader._schema(t))})
EDGE_CHARACTERS = ["0", "9", "A", "Z", "a", "/", ":", "@", "[", "-", "+", ".", "T", "Z", "\n", "\r", "\x00", " ",
                   "０", "٣", "Ａ", "\u2028", "é"]  # fmt: skip


def _pattern_decides_as_python(pattern: str, text: str) -> None:
    """Python's ``re.search`` (jsonschema) and jsonschema_rs agree, except that ``$`` in Python also matches
    before a final newline: there jsonschema_rs rejects and jsonschema (the authority) decides."""
    python = re.search(pattern, text) is not None
    rust = jsonschema_rs.Draft202012Validator({"pattern": pattern}).is_valid(text)
    if text.endswith("\n") and python and not rust:
        return
    assert rust == python, (pattern, text)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_pattern_reads_the_same_in_both_dialects(pattern: str) -> None:
    assert len(PATTERNS) >= 6
    examples = ("12345678901", "123456789012", "2026-04-01", "2026-04-01T09:30:00+09:00",
                "2026-04-01T09:30:00.123456Z", "123456", "AB12345678CD")  # fmt: skip
    matching = [s for s in examples if re.search(pattern, s)]
    assert matching, pattern
    checked = 0
    for text in matching:
        variants = {text, text + "\n", "\n" + text, text + "\n\n", text[:-1], text[1:], text + text[-1]}
        for i in range(len(text) + 1):
            for c in EDGE_CHARACTERS:
                variants.add(text[:i] + c + text[i:])  # inserted
                variants.add(text[:i] + c + text[i + 1 :])  # replaced
        for variant in variants:
            _pattern_decides_as_python(pattern, variant)
            checked += 1
    assert checked > 250


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_generated_pattern_strings_read_the_same(data: st.DataObject) -> None:
    pattern = data.draw(st.sampled_from(PATTERNS))
    text = data.draw(st.from_regex(pattern) | st.text(alphabet="0123456789ABZ-:T.+Z\n０", max_size=30))
    _pattern_decides_as_python(pattern, text)


def test_invalid_records_still_name_the_field() -> None:
    document = _sample("household-matsudo.json")
    document["members"][1]["sex"] = "X"
    with pytest.raises(RecordError) as caught:
        cc.load_record(document)
    assert caught.value.code is ReasonCode.SCHEMA_VIOLATION
    assert caught.value.field == "members[1].sex"


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    mappings = st.dictionaries(st.text(max_size=2), inner, max_size=3)
    return st.lists(inner, max_size=3) | st.tuples(inner) | mappings | st.builds(OrderedDict, mappings)


_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3) | st.builds(_Text)
    | st.decimals(allow_nan=False) | st.just(()),
    _containers,
    max_leaves=8,
)  # fmt: skip


@pytest.mark.skipif(_native.jsonscan is None, reason="_jsonscan_c is not built (or CIVICCERT_PURE_PYTHON=1)")
@settings(max_examples=300, deadline=None)
@given(value=_ANY, depth=st.integers(min_value=0, max_value=4))
def test_the_compiled_plain_check_equals_the_python_one(value: Any, depth: int) -> None:
    assert _native.jsonscan.plain(value, depth) == _plain_json_at(value, depth)


def _plain_json_at(value: Any, max_depth: int) -> bool:
    saved = loader.MAX_JSON_DEPTH
    try:
        loader.MAX_JSON_DEPTH = max_depth  # type: ignore[misc]
        return loader._plain_json(value)
    finally:
        loader.MAX_JSON_DEPTH = saved  # type: ignore[misc]


def test_deep_values_are_left_to_jsonschema_on_both_paths() -> None:
    deep: Any = "x"
    for _ in range(loader.MAX_JSON_DEPTH):
        deep = [deep]
    assert loader._plain_json(deep)
    assert not loader._plain_json([deep])
    if _native.jsonscan is not None:
        assert _native.jsonscan.plain(deep, loader.MAX_JSON_DEPTH)
        assert not _native.jsonscan.plain([deep], loader.MAX_JSON_DEPTH)


@pytest.mark.parametrize("text", ["𠮷𠮷𠮷", "𠮷𠮷𠮷𠮷", "葛\U000e0100葛", "が\u3099", "abc", "abcd", "", "\x00" * 3])
def test_lengths_count_code_points_in_both(text: str) -> None:
    """minLength/maxLength count code points in both (not UTF-8 bytes or UTF-16 units): astral characters,
    variation selectors and combining marks at the edge of a limit."""
    from jsonschema import Draft202012Validator

    for schema in ({"maxLength": 3}, {"minLength": 4}):
        assert jsonschema_rs.Draft202012Validator(schema).is_valid(text) == Draft202012Validator(schema).is_valid(text)
