"""civiccert.records exports exactly the public names of its modules."""

from __future__ import annotations

import importlib

import civiccert.records

MODULES = ("codes", "juminhyo", "loader", "seal", "text", "wareki")


def test_all_public_names_are_exported_once() -> None:
    expected: set[str] = set()
    for name in MODULES:
        expected |= set(importlib.import_module(f"civiccert.records.{name}").__all__)
    assert set(civiccert.records.__all__) == expected
    assert len(civiccert.records.__all__) == len(expected)  # no duplicates; ruff RUF022 keeps it sorted
    for name in civiccert.records.__all__:
        assert getattr(civiccert.records, name) is not None
