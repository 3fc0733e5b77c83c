"""A record schema compiled into plain Python checks: the fast "is this record valid?" on the issue path.

``jsonschema`` walks the schema on every record (validator objects evolved per keyword, reference scopes,
error generators): ~1 ms per 住民票 of the server's ~2 ms budget per issue request. :func:`compile_schema`
turns the (``$ref``-inlined) schema into nested closures for the keywords the shipped schemas use, with
exactly ``jsonschema``'s Draft 2020-12 semantics (type checks as its type checker: ``bool`` is not a number,
``1.0`` is an integer; ``pattern`` with ``re.search``; ``format`` is an annotation only). A valid record is
accepted by the closures alone; anything else (invalid, or a case the closures cannot decide, such as
``uniqueItems`` over non-strings) goes to ``jsonschema``, which stays the authority and names the field.
A keyword the compiler does not know makes it refuse the whole schema (then ``jsonschema`` checks every record).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Check", "Undecided", "compile_schema"]

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default",
                          "format", "deprecated", "readOnly", "writeOnly"})  # fmt: skip


class Undecided(Exception):
    """The compiled checks cannot decide this instance exactly."""


def compile_schema(schema: Mapping[str, Any]) -> Check | None:
    """A predicate equal to ``Draft202012Validator(schema).is_valid`` where it returns, or None when the schema
    uses a keyword this compiler does not handle. The predicate raises :class:`Undecided` when unsure."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None


class _Unsupported(Exception):
    pass


def _is_type(instance: Any, name: str) -> bool:
    if name == "string":
        return isinstance(instance, str)
    if name == "object":
        return isinstance(instance, dict)
    if name == "array":
        return isinstance(instance, list)
    if name == "null":
        return instance is None
    if name == "boolean":
        return isinstance(instance, bool)
    if isinstance(instance, bool):
        return False
    if name == "integer":
        return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())
    if name == "number":
        return isinstance(instance, int | float)
    raise _Unsupported(name)


def _compile(schema: Any) -> Check:
    if schema is True or schema == {}:
        return lambda _instance: True
    if schema is False:
        return lambda _instance: False
    if not isinstance(schema, Mapping):
        raise _Unsupported("schema")
    checks: list[Check] = []
    fused = _fused(schema)
    if fused is not None:  # the type and its own keywords in one closure; any other keyword checked beside it
        first, done = fused
        checks.append(first)
    else:
        done = frozenset()
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS or keyword in done:
            continue
        if keyword == "type":
            checks.append(_type_check([value] if isinstance(value, str) else list(value)))
        elif keyword == "properties":
            checks.append(_properties({name: _compile(sub) for name, sub in value.items()}))
        elif keyword == "required":
            checks.append(_required(list(value)))
        elif keyword == "additionalProperties":
            known = frozenset(schema.get("properties", {}))
            if "patternProperties" in schema:
                raise _Unsupported(keyword)
            checks.append(_additional(known, value))
        elif keyword == "items":
            if "prefixItems" in schema:
                raise _Unsupported(keyword)
            checks.append(_items(_compile(value)))
        elif keyword in ("minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum"):
            checks.append(_bound(keyword, value))
        elif keyword == "pattern":
            checks.append(_pattern(re.compile(value)))
        elif keyword in ("enum", "const"):
            options = list(value) if keyword == "enum" else [value]
            if not all(isinstance(o, str) for o in options):
                raise _Unsupported(keyword)  # jsonschema's equality of numbers, bools and containers: not here
            checks.append(_one_of_strings(frozenset(options)))
        elif keyword == "uniqueItems":
            if value:
                checks.append(_unique)
        elif keyword in ("allOf", "anyOf", "oneOf"):
            subs = [_compile(sub) for sub in value]
            checks.append(_combine(keyword, subs))
        elif keyword == "not":
            checks.append(_not(_compile(value)))
        else:
            raise _Unsupported(keyword)
    return _all(checks)


_EXACT: dict[str, type] = {"string": str, "object": dict, "array": list, "null": type(None)}

# the keywords :func:`_fused` folds into one closure per node type, beside the type itself
_STRING_KEYWORDS = frozenset({"type", "minLength", "maxLength", "pattern"})
_OBJECT_KEYWORDS = frozenset({"type", "required", "properties", "additionalProperties"})
_ARRAY_KEYWORDS = frozenset({"type", "minItems", "maxItems", "items", "uniqueItems"})


def _fused(schema: Mapping[str, Any]) -> tuple[Check, frozenset[str]] | None:
    """One closure for a node of one type (``"type": "string" | "object" | "array"``) and the keywords of that
    type, so the type is tested once per value instead of once per keyword (each keyword's own closure tests
    it again: applicable keywords ignore other types), with the keywords it covers; None for other nodes."""
    kind = schema.get("type")
    if isinstance(kind, list) and len(kind) == 1:
        kind = kind[0]
    if kind == "string":
        return _string_node(schema), _STRING_KEYWORDS
    if kind == "object" and "patternProperties" not in schema:
        return _object_node(schema), _OBJECT_KEYWORDS
    if kind == "array" and "prefixItems" not in schema:
        return _array_node(schema), _ARRAY_KEYWORDS
    return None


def _string_node(schema: Mapping[str, Any]) -> Check:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    regex = re.compile(schema["pattern"]) if "pattern" in schema else None

    def check(x: Any) -> bool:
        if not isinstance(x, str) or len(x) < low or (high is not None and len(x) > high):
            return False
        return regex is None or regex.search(x) is not None

    return check


def _object_node(schema: Mapping[str, Any]) -> Check:
    props = {name: _compile(sub) for name, sub in schema.get("properties", {}).items()}
    wanted = frozenset(schema.get("required", ()))
    additional = schema.get("additionalProperties", True)
    closed = additional is False
    extra = None if additional is True or closed else _compile(additional)

    def check(x: Any) -> bool:
        if not isinstance(x, dict) or not wanted.issubset(x.keys()):
            return False
        for name, value in x.items():
            sub = props.get(name)
            if sub is None:
                if closed or (extra is not None and not extra(value)):
                    return False
            elif not sub(value):
                return False
        return True

    return check


def _array_node(schema: Mapping[str, Any]) -> Check:
    low, high = schema.get("minItems", 0), schema.get("maxItems")
    item = _compile(schema["items"]) if "items" in schema else None
    unique = bool(schema.get("uniqueItems", False))

    def check(x: Any) -> bool:
        if not isinstance(x, list) or len(x) < low or (high is not None and len(x) > high):
            return False
        if item is not None:
            for value in x:  # a plain loop: no generator per array on the hot path
                if not item(value):
                    return False
        return not unique or _unique(x)

    return check


def _required(names: list[str]) -> Check:
    wanted = frozenset(names)
    return lambda x: not isinstance(x, dict) or wanted.issubset(x.keys())


def _additional(known: frozenset[str], schema: Any) -> Check:
    if schema is False:
        return lambda x: not isinstance(x, dict) or known.issuperset(x.keys())
    extra = _compile(schema)
    return lambda x: not isinstance(x, dict) or all(extra(v) for k, v in x.items() if k not in known)


def _items(item: Check) -> Check:
    return lambda x: not isinstance(x, list) or all(map(item, x))


def _pattern(regex: re.Pattern[str]) -> Check:
    return lambda x: not isinstance(x, str) or regex.search(x) is not None


def _one_of_strings(allowed: frozenset[str]) -> Check:
    return lambda x: isinstance(x, str) and x in allowed


def _not(sub: Check) -> Check:
    return lambda x: not sub(x)


def _type_check(names: list[str]) -> Check:
    for name in names:
        _is_type(None, name)  # unknown type names are refused at compile time
    if all(name in _EXACT for name in names):
        types = tuple(_EXACT[name] for name in names)
        return lambda x: isinstance(x, types)
    return lambda x: any(_is_type(x, n) for n in names)


def _properties(props: dict[str, Check]) -> Check:
    items = list(props.items())

    def check(x: Any) -> bool:
        if not isinstance(x, dict):
            return True
        for name, sub in items:  # noqa: SIM110 - a plain loop: no generator per object on the hot path
            if name in x and not sub(x[name]):
                return False
        return True

    return check


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda _x: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)

    def check(x: Any) -> bool:
        for sub in checks:  # noqa: SIM110 - as above
            if not sub(x):
                return False
        return True

    return check


def _bound(keyword: str, limit: Any) -> Check:
    if keyword in ("minItems", "maxItems"):
        low = keyword == "minItems"
        return lambda x: not isinstance(x, list) or (len(x) >= limit if low else len(x) <= limit)
    if keyword in ("minLength", "maxLength"):
        low = keyword == "minLength"
        return lambda x: not isinstance(x, str) or (len(x) >= limit if low else len(x) <= limit)
    low = keyword == "minimum"
    return lambda x: not _is_type(x, "number") or (x >= limit if low else x <= limit)


def _unique(instance: Any) -> bool:
    if not isinstance(instance, list):
        return True
    if not all(isinstance(v, str) for v in instance):
        raise Undecided("uniqueItems over non-strings")
    return len(set(instance)) == len(instance)


def _combine(keyword: str, subs: list[Check]) -> Check:
    if keyword == "allOf":
        return _all(subs)
    if keyword == "anyOf":
        return lambda x: any(sub(x) for sub in subs)
    return lambda x: sum(1 for sub in subs if sub(x)) == 1
