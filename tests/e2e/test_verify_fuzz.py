"""Property tests: no input makes the verifier raise, and no mutation of a genuine credential is VALID."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import civiccert as cc
from civiccert.paper.payload import qr_text

from worldkit import World, make_world

_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, cc.CredentialFile, str]]:
    world = make_world(Path(tmp_path_factory.mktemp("fuzz")))
    cred = world.issue_anchored()
    assert cred.paper_cose is not None
    yield world, cred, qr_text(cred.paper_cose, cred.paper_receipt)
    world.issuer.close()


@_FUZZ
@given(text=st.text(max_size=400) | st.binary(max_size=400))
def test_arbitrary_input_is_never_valid_and_never_raises(genuine: tuple[World, cc.CredentialFile, str],
                                                        text: str | bytes) -> None:
    world, _, _ = genuine
    result = world.offline_verifier().verify(text)
    assert result.verdict is not cc.Verdict.VALID


@_FUZZ
@given(data=st.data())
def test_any_single_character_change_to_a_credential_is_not_valid(genuine: tuple[World, cc.CredentialFile, str],
                                                                  data: st.DataObject) -> None:
    world, cred, _ = genuine
    token = cred.sd_jwt
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("AQgw_-~.0z"))
    mutated = token[:index] + replacement + token[index + 1:]
    if mutated == token:
        return
    result = world.online_verifier().verify(dataclasses.replace(cred, sd_jwt=mutated))
    # dropping or duplicating a disclosure separator may still leave a genuine (less disclosed) presentation
    if result.verdict is cc.Verdict.VALID:
        assert set(mutated.split("~")) <= set(token.split("~")) | {""}
        assert mutated.split("~")[0] == token.split("~")[0]


@_FUZZ
@given(data=st.data())
def test_any_single_character_change_to_a_printed_qr_is_not_valid(genuine: tuple[World, cc.CredentialFile, str],
                                                                   data: st.DataObject) -> None:
    world, _, text = genuine
    index = data.draw(st.integers(4, len(text) - 1))  # keep the prefix; the payload is what a forger edits
    replacement = data.draw(st.sampled_from("0A9Z $%*+-./:"))
    mutated = text[:index] + replacement + text[index + 1:]
    if mutated == text:
        return
    assert world.online_verifier().verify(mutated).verdict is not cc.Verdict.VALID
