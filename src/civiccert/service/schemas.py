"""Request schemas of the HTTP API, built from the shipped record JSON Schemas (one source of truth)."""

from __future__ import annotations

from typing import Any

from civiccert.issuance.issuer import Issuer
from civiccert.records.loader import record_schema

__all__ = ["ISSUE_BATCH_SCHEMA", "ISSUE_SCHEMA", "RECORD_SCHEMA", "status_of"]


def _strip(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without the members OpenAPI 3.1 has no use for inside a component."""
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id")}


RECORD_SCHEMA: dict[str, Any] = {
    "oneOf": [_strip(dict(record_schema("resident_record"))), _strip(dict(record_schema("seal_certificate")))]
}
ISSUE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["record"],
    "additionalProperties": False,
    "properties": {
        "record": RECORD_SCHEMA,
        "holder_jwk": {"type": "object", "description": "the holder's public JWK (key binding)"},
        "paper": {"type": "boolean", "default": True, "description": "also sign the printed twin"},
    },
}
ISSUE_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["records"],
    "additionalProperties": False,
    "properties": {"records": {"type": "array", "minItems": 1, "maxItems": 100, "items": RECORD_SCHEMA}},
}


def status_of(issuer: Issuer) -> dict[str, Any]:
    """The issuer's status, as JSON."""
    return {k: (v.value if hasattr(v, "value") else v) for k, v in issuer.status().items()}
