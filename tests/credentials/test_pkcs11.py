"""Issuer keys on a PKCS#11 token, against a real SoftHSM2 token made for this module in a temporary directory."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import civiccert as cc
from civiccert.cli import main
from civiccert.credentials import sdjwt
from civiccert.credentials.keys import jwk_thumbprint, public_key_from_jwk, verify_signature
from civiccert.credentials.pkcs11 import Pkcs11Signer, Pkcs11Uri, generate_key
from civiccert.errors import ConfigError, KeyFileError, ReasonCode
from civiccert.paper.payload import qr_text

pkcs11 = pytest.importorskip("pkcs11", reason="python-pkcs11 not installed (pip install 'civiccert[hsm]')")

pytestmark = pytest.mark.hsm

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN, SO_PIN = "1234", "5678"
PASSPHRASE = b"hsm-test-passphrase"


@dataclass(frozen=True)
class Token:
    uri: str  # the module's pre-made non-extractable P-256 key "issuer"
    conf: Path

    def key_uri(self, label: str, token: str = "city", module: Path = MODULE) -> str:
        return str(Pkcs11Uri(str(module), token, label))


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    if shutil.which("softhsm2-util") is None or not MODULE.exists():
        pytest.skip("SoftHSM2 not installed (scripts/setup installs the Debian package softhsm2)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "city", "--pin", PIN,
                        "--so-pin", SO_PIN], check=True, capture_output=True)
        lib = pkcs11.lib(str(MODULE))
        lib.reinitialize()  # SoftHSM reads SOFTHSM2_CONF at C_Initialize: see this module's token directory
        with generate_key(str(Pkcs11Uri(str(MODULE), "city", "issuer")), PIN.encode()) as signer:
            uri = str(signer.uri)
        yield Token(uri, conf)


@pytest.fixture
def signer(token: Token) -> Iterator[Pkcs11Signer]:
    with Pkcs11Signer.open(token.uri, PIN.encode()) as opened:
        yield opened


def _household() -> cc.ResidentRecord:
    record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
    assert isinstance(record, cc.ResidentRecord)
    return record


def test_token_signatures_verify_by_the_normal_path(signer: Pkcs11Signer) -> None:
    token = sdjwt.issue({"iss": "urn:x", "vct": "urn:y", "n": 1}, signer, header={"jwk": signer.public_jwk()})
    public = public_key_from_jwk(signer.public_jwk())
    verified = sdjwt.verify(token, resolve_key=lambda _h, _p: public, algorithms=("ES256",), check_validity=False)
    assert verified.claims["n"] == 1
    assert verified.header["kid"] == signer.kid
    # the kid is the RFC 7638 thumbprint, as a key file's would be
    assert signer.kid == jwk_thumbprint(signer.public_jwk())
    raw = signer.sign(b"data")
    assert len(raw) == 64  # r||s, not DER
    assert verify_signature("ES256", public, b"data", raw)
    assert not verify_signature("ES256", public, b"datA", raw)


def test_the_private_key_never_leaves_the_token(token: Token) -> None:
    ref = Pkcs11Uri.parse(token.uri)
    lib = pkcs11.lib(str(MODULE))
    with lib.get_token(token_label="city").open(user_pin=PIN) as session:
        private = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=ref.label, id=ref.key_id)
        assert private[pkcs11.Attribute.SENSITIVE] is True
        assert private[pkcs11.Attribute.EXTRACTABLE] is False
        with pytest.raises(pkcs11.AttributeSensitive):
            private[pkcs11.Attribute.VALUE]


def test_an_issuer_home_bound_to_the_token_issues_credentials_that_verify(token: Token, tmp_path: Path) -> None:
    home = tmp_path / "home"
    issuer = cc.Issuer.init(home, municipality_code="122076", municipality_name="松戸市", passphrase=PASSPHRASE,
                            key_uri=token.uri, pin=PIN.encode())
    issuer.close()
    config = json.loads((home / "config.json").read_text())
    assert config["key_uri"] == token.uri
    assert PIN not in json.dumps(config)
    assert not (home / "keys" / "issuer.pem").exists()
    issuer = cc.Issuer.open(home, passphrase=PASSPHRASE, pin=PIN.encode())
    try:
        assert isinstance(issuer.key, Pkcs11Signer)
        cred = issuer.issue(_household())
        verifier = cc.Verifier(trust=issuer.trust_export())
        assert verifier.verify(cred).verdict is cc.Verdict.VALID
        assert cred.paper_cose is not None
        assert verifier.verify(qr_text(cred.paper_cose, None)).verdict is cc.Verdict.VALID  # the paper twin
        with pytest.raises(ConfigError) as refused:  # rotation on a token: refused before any chain action
            issuer.rotate_key(PASSPHRASE)
        assert refused.value.code is ReasonCode.CONFIG_INVALID
    finally:
        issuer.close()


def test_an_hsm_home_anchors_and_registers_its_token_key_on_chain(token: Token, tmp_path: Path) -> None:
    chain = cc.connect("embedded")
    registry = cc.Registry.deploy(chain, cc.dev_account(chain))
    issuer = cc.Issuer.init(tmp_path / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=PASSPHRASE, key_uri=token.uri, pin=PIN.encode())
    try:
        assert issuer.account is not None
        cc.fund_dev_account(chain, issuer.account.address)
        issuer.use_chain(chain, registry.address)
        issuer.register_on_chain(registry)
        cred = issuer.issue(_household())
        issuer.anchor()
        cred = issuer.with_receipts(cred)
        online = cc.Verifier(trust=issuer.trust_export(), registry=cc.OnlineRegistry.of(chain, registry.address))
        assert online.verify(cred).verdict is cc.Verdict.VALID
    finally:
        issuer.close()


@pytest.mark.parametrize(("change", "code"), [
    ({"pin": b"0000"}, ReasonCode.HSM_PIN_WRONG),
    ({"pin": None}, ReasonCode.PASSPHRASE_MISSING),
    ({"label": "nobody"}, ReasonCode.HSM_KEY_MISSING),
    ({"token": "elsewhere"}, ReasonCode.HSM_TOKEN_MISSING),
    ({"module": Path("/nonexistent/libpkcs11.so")}, ReasonCode.HSM_UNAVAILABLE),
    ({"module": Path("/etc/hostname")}, ReasonCode.HSM_UNAVAILABLE),  # a file, but no shared library
])
def test_failures_have_their_reason_codes(token: Token, change: dict[str, object], code: ReasonCode) -> None:
    uri = token.key_uri(str(change.get("label", "issuer")), str(change.get("token", "city")),
                        Path(str(change.get("module", MODULE))))
    with pytest.raises(KeyFileError) as failed:
        Pkcs11Signer.open(uri, change["pin"] if "pin" in change else PIN.encode())  # type: ignore[arg-type]
    assert failed.value.code is code
    assert PIN not in str(failed.value)
    assert "0000" not in str(failed.value)


def test_generating_over_an_existing_label_is_refused(token: Token) -> None:
    with pytest.raises(KeyFileError) as refused:
        generate_key(token.key_uri("issuer"), PIN.encode())
    assert refused.value.code is ReasonCode.HSM_KEY_EXISTS


@pytest.mark.parametrize("uri", [
    "pkcs11:token=city;object=issuer",  # no module
    "pkcs11:token=city;object=issuer;pin-value=1234?module-path=/x.so",  # PIN in the reference
    "pkcs11:token=city;object=issuer;type=public?module-path=/x.so",
    "pkcs11:token=city;object=a;object=b?module-path=/x.so",
    "file:///x",
])
def test_malformed_key_uris_are_refused(uri: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Pkcs11Uri.parse(uri)
    assert refused.value.code is ReasonCode.CONFIG_INVALID


def test_key_uris_round_trip_with_escapes() -> None:
    ref = Pkcs11Uri("/opt/my hsm/lib.so", "市役所;1", "職責/issuer?", b"\x00\xff")
    assert Pkcs11Uri.parse(str(ref)) == ref


def test_one_signer_is_safe_across_threads(signer: Pkcs11Signer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    public = public_key_from_jwk(signer.public_jwk())
    messages = [f"m{i}".encode() for i in range(200)]
    with ThreadPoolExecutor(4) as pool:
        signatures = list(pool.map(signer.sign, messages))
    assert all(verify_signature("ES256", public, m, s) for m, s in zip(messages, signatures, strict=True))


# --- through the CLI ---------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_home_on_a_token_generated_there_issues_and_verifies(token: Token, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.delenv("CIVICCERT_PKCS11_PIN", raising=False)
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n")
    home = tmp_path / "home"
    code, _, err = run(capsys, "--pin-file", pin_file, "init", home, "--municipality-code", "122076",
                       "--municipality-name", "松戸市", "--pkcs11-module", MODULE, "--pkcs11-token", "city",
                       "--pkcs11-key", f"cli-{tmp_path.name}", "--generate-on-token")
    assert code == 0, err
    assert PIN not in err
    cred = tmp_path / "cred.json"
    code, _, err = run(capsys, "--home", home, "--pin-file", pin_file, "issue", "resident-record",
                       cc.sample_record_path("household-matsudo.json"), "-o", cred)
    assert code == 0, err
    trust = tmp_path / "trust.json"
    assert run(capsys, "--home", home, "trust", "export", "-o", trust)[0] == 0  # needs neither PIN nor token
    code, out, _ = run(capsys, "verify", cred, "--trust", trust, "--offline", "--json")
    assert code == 0
    assert json.loads(out)["verdict"] == "VALID"
    # a wrong PIN, and no PIN at all, are configuration errors (78) with their codes
    pin_file.write_text("9999")
    code, _, err = run(capsys, "--home", home, "--pin-file", pin_file, "issue", "resident-record",
                       cc.sample_record_path("household-matsudo.json"), "-o", tmp_path / "c2.json")
    assert code == 78
    assert "hsm_pin_wrong" in err
    assert "9999" not in err
    code, _, err = run(capsys, "--home", home, "issue", "resident-record",
                       cc.sample_record_path("household-matsudo.json"), "-o", tmp_path / "c3.json")
    assert code == 78
    assert "passphrase_missing" in err
    assert not (tmp_path / "c2.json").exists()
    assert not (tmp_path / "c3.json").exists()


@pytest.mark.parametrize(("options", "reason"), [
    (["--pkcs11-key", "nobody"], "hsm_key_missing"),
    (["--pkcs11-token", "elsewhere"], "hsm_token_missing"),
    (["--pkcs11-module", "/nonexistent/lib.so"], "hsm_unavailable"),
])
def test_cli_init_failures_exit_78_with_their_codes(token: Token, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch, options: list[str],
                                                    reason: str) -> None:
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("CIVICCERT_PKCS11_PIN", PIN)
    chosen = {"--pkcs11-module": str(MODULE), "--pkcs11-token": "city", "--pkcs11-key": "issuer"}
    chosen.update(zip(options[::2], options[1::2], strict=True))
    code, _, err = run(capsys, "init", tmp_path / "home", "--municipality-code", "122076",
                       "--municipality-name", "松戸市", *[x for kv in chosen.items() for x in kv])
    assert code == 78
    assert reason in err
    assert not (tmp_path / "home" / "config.json").exists()


def test_cli_refuses_half_given_pkcs11_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "init", tmp_path / "home", "--municipality-code", "122076",
                     "--municipality-name", "松戸市", "--pkcs11-token", "city")
    assert code == 64



def test_a_failed_open_logs_out_so_a_wrong_pin_is_still_refused(token: Token, tmp_path: Path) -> None:
    home = tmp_path / "home"
    cc.Issuer.init(home, municipality_code="122076", municipality_name="松戸市", passphrase=PASSPHRASE,
                   key_uri=token.uri, pin=PIN.encode()).close()
    with pytest.raises(ConfigError) as wrong_passphrase:  # the token key opened, then the chain account failed
        cc.Issuer.open(home, passphrase=b"not the passphrase", pin=PIN.encode())
    assert wrong_passphrase.value.code is ReasonCode.PASSPHRASE_WRONG
    with pytest.raises(KeyFileError) as wrong_pin:  # a session left open would have kept the login
        cc.Issuer.open(home, passphrase=PASSPHRASE, pin=b"0000")
    assert wrong_pin.value.code is ReasonCode.HSM_PIN_WRONG
