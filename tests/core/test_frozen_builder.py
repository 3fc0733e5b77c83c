"""The fast constructor of the per-item frozen results builds the same object the dataclass would."""

from __future__ import annotations

import dataclasses

import pytest

from civiccert._frozen import frozen_builder
from civiccert.credentials.jose import VerifiedJws
from civiccert.errors import ReasonCode
from civiccert.verification.result import Check, CheckName, Outcome, VerificationResult


def test_builds_an_equal_frozen_instance() -> None:
    values = {"checks": (Check(CheckName.FORMAT, Outcome.PASSED, ReasonCode.OK),), "form": "presentation",
              "vct": "v", "claims": {"a": 1}, "issuer": {}, "anchor": {}, "source": None, "issued_at": 1,
              "expires_at": 2}
    built = frozen_builder(VerificationResult)(**values)
    assert built == VerificationResult(**values)
    assert type(built) is VerificationResult
    assert repr(built) == repr(VerificationResult(**values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.form = "paper"  # type: ignore[misc]


def test_every_field_is_required_and_no_other() -> None:
    build = frozen_builder(VerifiedJws)
    with pytest.raises(TypeError):
        build(header={}, payload=b"", signing_input=b"")  # a field with a default still has to be given
    with pytest.raises(TypeError):
        build(header={}, payload=b"", signing_input=b"", signing_input_sha256=b"", extra=1)


def test_refuses_classes_it_cannot_build_faithfully() -> None:
    @dataclasses.dataclass(frozen=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            assert self.value > 0

    with pytest.raises(TypeError):
        frozen_builder(Checked)
