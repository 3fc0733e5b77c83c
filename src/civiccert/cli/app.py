"""The root ``civiccert`` Typer app: global options and the issuer verbs; other groups are added here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from civiccert.cli import anchor_cmd, chain_cmd, pki_cmd, status_cmd, trust_cmd, verify_cmd
from civiccert.cli.common import (
    State,
    emit_json,
    info,
    open_issuer,
    passphrase,
    pin,
    require_home,
    use_passphrase_file,
    use_pin_file,
)
from civiccert.cli.errors import EXIT_UNAVAILABLE
from civiccert.errors import CredentialError, ReasonCode
from civiccert.i18n import N_, _, set_language

app = typer.Typer(
    name="civiccert",
    help="Issue, anchor, print and verify tamper-proof 住民票の写し and 印鑑登録証明書.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain Click help on every Typer here: Rich's help renderer adds ~0.2 s to each start
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,  # locals hold personal data: never print them
    add_completion=False,
)
key_app = typer.Typer(help="The issuer's signing key: rotate it, or replace it after a compromise.",
                      no_args_is_help=True, rich_markup_mode=None)
issue_app = typer.Typer(help="Issue a credential from a record JSON file (see examples/records/).",
                        no_args_is_help=True, rich_markup_mode=None)
app.add_typer(issue_app, name="issue")
app.add_typer(key_app, name="key")
app.add_typer(chain_cmd.app, name="chain")
app.add_typer(trust_cmd.app, name="trust")
app.add_typer(status_cmd.app, name="status-list")
app.command("suspend")(status_cmd.suspend)
app.command("reinstate")(status_cmd.reinstate)
app.command("supersede")(status_cmd.supersede)
app.add_typer(pki_cmd.app, name="pki")
app.command("verify")(verify_cmd.verify)


def _version() -> str:
    """The installed distribution's version; the package's own when run from a source tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("civiccert")
    except PackageNotFoundError:
        from civiccert import __version__

        return __version__


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"civiccert {_version()}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option("--home", envvar="CIVICCERT_HOME",
                                              help="Issuer home directory (keys, journal, chain settings).")] = None,
    passphrase_file: Annotated[Path | None, typer.Option(
        "--passphrase-file", envvar="CIVICCERT_KEY_PASSPHRASE_FILE",
        help="Read the key passphrase from this file (unattended jobs) instead of "
             "CIVICCERT_KEY_PASSPHRASE or a prompt.")] = None,
    pin_file: Annotated[Path | None, typer.Option(
        "--pin-file", envvar="CIVICCERT_PKCS11_PIN_FILE",
        help="Read the PKCS#11 token PIN from this file (homes whose key is on a token) instead of "
             "CIVICCERT_PKCS11_PIN or a prompt.")] = None,
    lang: Annotated[str | None, typer.Option(
        "--lang", help="ja or en for messages and reports (default: CIVICCERT_LANG, else ja under a Japanese "
                       "locale, else en). JSON output is always English.")] = None,
    _version_flag: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                                help="Print the version and exit.")] = False,
) -> None:
    """civiccert: digital and printed municipal certificates you can verify."""
    if lang is not None:
        if lang not in ("ja", "en"):
            raise typer.BadParameter("ja or en", param_hint="--lang")
        set_language(lang)
    ctx.obj = State(home)
    use_passphrase_file(passphrase_file)
    use_pin_file(pin_file)


@app.command()
def init(
    home: Annotated[Path, typer.Argument(help="Directory to create.")],
    municipality_code: Annotated[str, typer.Option(help="全国地方公共団体コード, 6 digits with check digit.")],
    municipality_name: Annotated[str, typer.Option(help="Name as printed, e.g. 松戸市.")],
    alg: Annotated[str, typer.Option(help="Signing algorithm: ES256 or EdDSA.")] = "ES256",
    production: Annotated[bool, typer.Option(help="Real issuer: printed copies without the 見本 mark.")] = False,
    key_uri: Annotated[str | None, typer.Option(
        help="Sign with this key on a PKCS#11 token instead of a key file: "
             "pkcs11:token=T;object=LABEL?module-path=/path/to/module.so")] = None,
    pkcs11_module: Annotated[Path | None, typer.Option(help="PKCS#11 module (with --pkcs11-token/--pkcs11-key, "
                                                            "instead of --key-uri).")] = None,
    pkcs11_token: Annotated[str | None, typer.Option(help="Token label.")] = None,
    pkcs11_key: Annotated[str | None, typer.Option(help="Key label on the token.")] = None,
    generate_on_token: Annotated[bool, typer.Option(
        help="Generate the P-256 key pair on the token (non-extractable) instead of using an existing one.")] = False,
    issuer_url: Annotated[str | None, typer.Option(help="HTTPS issuer identifier (iss) once a certificate is "
                                                   "installed, e.g. https://www.city.matsudo.chiba.jp.")] = None,
    mayor_title: Annotated[str | None, typer.Option(help="Certifier's title as printed, e.g. 松戸市長 "
                                                    "(default: the municipality name + 長).")] = None,
    mayor_name: Annotated[str | None, typer.Option(help="Certifier's name as printed on every copy.")] = None,
    official_seal: Annotated[Path | None, typer.Option(help="The official seal (職印) as a PNG, copied into the "
                                                       "home (default: a generated one).")] = None,
) -> None:
    """Create an issuer home: signing key (a key file, or a key on a PKCS#11 token) and chain account, config."""
    from civiccert.issuance.issuer import Issuer

    if issuer_url is not None and not issuer_url.startswith("https://"):
        raise typer.BadParameter("must be an https:// URL", param_hint="--issuer-url")
    uri = _key_uri(key_uri, pkcs11_module, pkcs11_token, pkcs11_key)
    seal_png = _read_seal(official_seal) if official_seal is not None else None
    if mayor_title is not None or mayor_name is not None or seal_png is not None:
        from civiccert.issuance.certifier import check_certifier

        check_certifier(municipality_name, mayor_title, mayor_name or "", seal_png)  # before the home exists
    secret = passphrase(confirm=True)
    issuer = Issuer.init(home, municipality_code=municipality_code, municipality_name=municipality_name,
                         passphrase=secret, alg=alg, sample=not production, key_uri=uri,
                         pin=pin() if uri is not None else None, generate_on_token=generate_on_token)
    if issuer_url is not None:
        from dataclasses import replace

        issuer.config = replace(issuer.config, extra={**issuer.config.extra, "issuer_url": issuer_url})
        issuer.config.save(home)
    if mayor_title is not None or mayor_name is not None or seal_png is not None:
        from civiccert.issuance.certifier import with_certifier

        issuer.config = with_certifier(home, issuer.config, title=mayor_title, name=mayor_name, seal_png=seal_png)
    info(_("initialised {home} for {name} ({code}); key id {kid}").format(
        home=home, name=issuer.config.municipality_name, code=issuer.config.municipality_code, kid=issuer.key.kid))
    issuer.close()


def _read_seal(path: Path) -> bytes:
    """The official seal PNG's bytes, read before the home is created (a bad path leaves no half home)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CredentialError(ReasonCode.INPUT_NOT_FOUND, "official seal image cannot be read",
                              field="official_seal") from exc


def _key_uri(uri: str | None, module: Path | None, token: str | None, label: str | None) -> str | None:
    """One PKCS#11 URI from --key-uri or from the three --pkcs11-* options (never both)."""
    from civiccert.credentials.pkcs11 import Pkcs11Uri

    parts = (module, token, label)
    if uri is not None:
        if any(part is not None for part in parts):
            raise typer.BadParameter("give --key-uri or the --pkcs11-* options, not both", param_hint="--key-uri")
        return uri
    if all(part is None for part in parts):
        return None
    if module is None or not token or not label:
        raise typer.BadParameter("--pkcs11-module, --pkcs11-token and --pkcs11-key go together",
                                 param_hint="--pkcs11-module")
    return str(Pkcs11Uri(str(module.absolute()), token, label))


def _writable(path: Path, option: str) -> None:
    """Refuse an output path before anything is signed: a credential must never be issued into the void."""
    if path.is_dir() or not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        raise typer.BadParameter("not a writable file path", param_hint=option)


def _holder_jwk(path: Path | None) -> dict[str, str] | None:
    """The holder's public JWK from a file (what a wallet hands the counter), checked before anything is signed."""
    if path is None:
        return None
    from civiccert.credentials.keys import public_key_from_jwk
    from civiccert.credentials.strictjson import json_parse
    from civiccert.errors import CredentialError, ReasonCode

    with path.open("rb") as handle:
        data = handle.read(_MAX_JWK_BYTES + 1)
    jwk = json_parse(data, field="holder_jwk") if len(data) <= _MAX_JWK_BYTES else None
    if not isinstance(jwk, dict):
        raise CredentialError(ReasonCode.MALFORMED, "the holder key is not a JWK object", field="holder_jwk")
    public_key_from_jwk(jwk)  # a private, malformed or unsupported key is refused here
    return {name: jwk[name] for name in ("kty", "crv", "x", "y") if name in jwk}


_MAX_JWK_BYTES = 16 * 1024
_UNSIGNED_NOTE = N_(" (the PDF itself is unsigned: the home has no certificate for its key; the QR is signed. "
                    "'civiccert pki import' / 'pki issue-leaf' certifies the key, --require-signed refuses)")


def _issue(ctx: typer.Context, kind: type, record_path: Path, out: Path, pdf: Path | None, anchor: bool | None,
           as_json: bool, holder_jwk_path: Path | None = None) -> None:
    from civiccert.errors import ChainError, ReasonCode, RecordError
    from civiccert.records import load_record

    _writable(out, "--out")
    if pdf is not None:
        _writable(pdf, "--pdf")
    holder_jwk = _holder_jwk(holder_jwk_path)
    record = load_record(record_path)
    if not isinstance(record, kind):
        raise RecordError(ReasonCode.FIELD_INVALID, "the record's type does not match this command", field="type")
    issuer = open_issuer(ctx)
    try:
        cred = issuer.issue(record, holder_jwk=holder_jwk)
        # a printed copy carries its receipt in the QR: anchor first when a chain is configured (a batch of
        # one credential keeps the proof, and the QR, small); if the node is down the copy prints without it
        if anchor or (anchor is None and pdf is not None and issuer.has_chain):
            try:
                issuer.anchor()
                cred = issuer.with_receipts(cred)
            except ChainError as exc:  # issued and journaled all the same: saved and printed below
                info(_("not anchored now ({code}); the copy is saved without its receipt").format(
                    code=exc.code.value))
        cred.save(out)
        if pdf is not None:
            issuer.print_pdf(cred, pdf)
            if not issuer.signs_pdf:
                info(_("note: {pdf}").format(pdf=pdf) + _(_UNSIGNED_NOTE))
        summary = {"id": cred.id, "vct": cred.vct, "file": str(out), "pdf": str(pdf) if pdf else None,
                   "anchored": cred.receipt is not None}
        if as_json:
            emit_json(summary)
        else:
            info(_("issued {id} -> {out}").format(id=cred.id, out=out)
                 + (_(", printed {pdf}").format(pdf=pdf) if pdf else "")
                 + (_(" (anchored)") if cred.receipt else _(" (pending anchoring: run 'civiccert anchor')")))
    finally:
        issuer.close()


_OUT = typer.Option("-o", "--out", help="Credential file to write.")
_PDF = typer.Option("--pdf", help="Also print the copy as a PDF with a signed QR.")
_ANCHOR = typer.Option("--anchor/--no-anchor", help="Anchor right away and embed the receipt (default: only "
                       "with --pdf, so the printed QR carries its receipt).")
_JSON = typer.Option("--json", help="Machine-readable output on stdout.")
_HOLDER = typer.Option("--holder-jwk", help="Bind the credential to this holder public key (JWK file): its "
                       "presentations then carry a key-binding JWT signed by the holder.")


@issue_app.command("resident-record")
def issue_resident_record(
    ctx: typer.Context,
    record: Annotated[Path, typer.Argument(help="Record JSON (type resident_record).")],
    out: Annotated[Path, _OUT],
    pdf: Annotated[Path | None, _PDF] = None,
    anchor: Annotated[bool | None, _ANCHOR] = None,
    as_json: Annotated[bool, _JSON] = False,
    holder_jwk: Annotated[Path | None, _HOLDER] = None,
) -> None:
    """Issue a 住民票の写し."""
    from civiccert.records import ResidentRecord

    _issue(ctx, ResidentRecord, record, out, pdf, anchor, as_json, holder_jwk)


@issue_app.command("seal-certificate")
def issue_seal_certificate(
    ctx: typer.Context,
    record: Annotated[Path, typer.Argument(help="Record JSON (type seal_certificate).")],
    out: Annotated[Path, _OUT],
    pdf: Annotated[Path | None, _PDF] = None,
    anchor: Annotated[bool | None, _ANCHOR] = None,
    as_json: Annotated[bool, _JSON] = False,
    holder_jwk: Annotated[Path | None, _HOLDER] = None,
) -> None:
    """Issue a 印鑑登録証明書."""
    from civiccert.records import SealCertificate

    _issue(ctx, SealCertificate, record, out, pdf, anchor, as_json, holder_jwk)


@app.command()
def present(
    credential: Annotated[Path, typer.Argument(help="Credential file.")],
    disclose: Annotated[list[str], typer.Option("--disclose", "-d",
                        help="Claim path to reveal, e.g. members[0].name, household.address, '*'.")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Write here instead of stdout.")] = None,
    holder_key: Annotated[Path | None, typer.Option(help="Holder key (PEM) for key binding.")] = None,
    aud: Annotated[str | None, typer.Option(help="Audience for the key-binding JWT.")] = None,
    nonce: Annotated[str | None, typer.Option(help="Verifier's nonce for the key-binding JWT.")] = None,
    compact: Annotated[bool, typer.Option(help="Bare SD-JWT text instead of a file with the receipt.")] = False,
) -> None:
    """Make a presentation that reveals only the chosen claims."""
    from civiccert.credential_file import CredentialFile
    from civiccert.credentials.keys import IssuerKey
    from civiccert.fileio import write_atomic
    from civiccert.presentation import present as make_presentation

    cred = CredentialFile.load(credential)
    key = IssuerKey.load(holder_key, passphrase()) if holder_key else None
    try:
        shown = make_presentation(cred, disclose, holder_key=key, aud=aud, nonce=nonce)
    except ValueError as exc:  # a path that names nothing, or is not a path
        raise typer.BadParameter("a claim path is malformed or names no claim of this credential",
                                 param_hint="--disclose") from exc
    text = shown.sd_jwt + "\n" if compact else shown.dumps()
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(out, text.encode("utf-8"), mode=0o600)  # personal data
        info(_("presentation -> {out}").format(out=out))


app.command("anchor")(anchor_cmd.anchor)


@app.command()
def serve(
    ctx: typer.Context,
    clients: Annotated[Path, typer.Option(envvar="CIVICCERT_CLIENTS", help="Registered API clients (JSON: "
                                          "client_id, role, public JWK); see docs/deploy.md.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    audience: Annotated[str, typer.Option(envvar="CIVICCERT_AUDIENCE", help="The aud clients' tokens name.")
                        ] = "civiccert",
    worker: Annotated[bool, typer.Option(help="Run the anchoring worker in this process.")] = True,
    worker_interval: Annotated[float, typer.Option(help="Seconds between the worker's checks.", min=0.1)] = 1.0,
    status_every: Annotated[float, typer.Option(help="Republish status lists at least this often (seconds; "
                                                "also soon after any change).", min=1.0)] = 6 * 3600.0,
    verify_page: Annotated[bool, typer.Option(help="Serve the public verifier page at /verify (docs/verifier-page.md)."
                                              )] = True,
    workers: Annotated[int, typer.Option(help="Server processes (each issues; one at a time anchors and "
                                         "publishes status lists); see docs/deploy.md.", min=1, max=64)] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) with the anchoring worker and status lists, until SIGTERM."""
    import os

    from civiccert.cli.common import JOURNAL_URL_ENV, PASSPHRASE_ENV, passphrase
    from civiccert.service.server import serve as run_server

    root = ctx.find_root().params
    typed: bytes | None = None
    if workers > 1 and root.get("passphrase_file") is None and not os.environ.get(PASSPHRASE_ENV):
        typed = passphrase()  # prompted once here; the worker processes inherit it (docs/deploy.md)
        os.environb[PASSPHRASE_ENV.encode()] = typed
    if workers > 1 and root.get("pin_file") is None:
        _hand_over_pin(ctx)
    issuer = open_issuer(ctx)
    run_server(issuer, clients=clients, host=host, port=port, audience=audience, worker=worker,
               worker_interval=worker_interval, journal_url=os.environ.get(JOURNAL_URL_ENV) or None,
               status_every=status_every, verify_page=verify_page, workers=workers,
               passphrase_file=root.get("passphrase_file"), pin_file=root.get("pin_file"), passphrase=typed)


def _hand_over_pin(ctx: typer.Context) -> None:
    """Prompt for a token PIN once, for ``serve --workers``: the worker processes inherit it (they cannot prompt)."""
    import os

    from civiccert.cli.common import pin, require_home
    from civiccert.credentials.pkcs11 import PIN_ENV
    from civiccert.issuance.home import HomeConfig

    home = require_home(ctx)
    if os.environ.get(PIN_ENV) or not HomeConfig.exists(home) or HomeConfig.load(home).key_uri is None:
        return
    os.environb[PIN_ENV.encode()] = pin()


@app.command()
def receipt(ctx: typer.Context, credential: Annotated[Path, typer.Argument(help="Credential file to update.")]
            ) -> None:
    """Attach the anchoring receipts to a credential file (after 'civiccert anchor')."""
    from civiccert.credential_file import CredentialFile

    issuer = open_issuer(ctx)
    try:
        cred = issuer.with_receipts(CredentialFile.load(credential))
    finally:
        issuer.close()
    cred.save(credential)
    info(_("receipt attached") if cred.receipt else _("not anchored yet: run 'civiccert anchor'"))


@app.command()
def revoke(
    ctx: typer.Context,
    credential: Annotated[Path, typer.Argument(help="Credential file (or its id) to revoke.")],
    reason: Annotated[str, typer.Option(help="unspecified | superseded | issued_in_error | key_compromise | "
                                             "holder_request")] = "unspecified",
) -> None:
    """Revoke a credential and its printed twin: INVALID in the status list, and on chain when one is configured."""
    from civiccert.credential_file import CredentialFile
    from civiccert.issuance.issuer import RevocationReason

    if reason not in RevocationReason.NAMES:
        raise typer.BadParameter(f"unknown reason; one of {', '.join(RevocationReason.NAMES)}", param_hint="--reason")
    target = CredentialFile.load(credential) if credential.is_file() else str(credential)
    issuer = open_issuer(ctx)
    try:
        outcome = issuer.revoke(target, RevocationReason.NAMES[reason])
    finally:
        issuer.close()
    if outcome.error is not None:
        info(_("revocation journaled but not yet on chain ({code}); it is retried by 'civiccert anchor' and "
               "shown by 'civiccert status'").format(code=outcome.error.value))
        raise typer.Exit(EXIT_UNAVAILABLE)
    from civiccert.i18n import reason_label

    info(_("revoked {ids} ({reason}); the status list shows it at the next 'civiccert status-list publish'")
         .format(ids=", ".join(outcome.credential_ids), reason=reason_label(reason)))


app.command("status")(anchor_cmd.status)


@app.command("print")
def print_copy(
    ctx: typer.Context,
    credential: Annotated[Path, typer.Argument(help="Credential file.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="PDF to write.")],
    require_signed: Annotated[bool, typer.Option(
        "--require-signed", help="Refuse (exit 78) rather than print an unsigned PDF when the home has no "
                                 "certificate.")] = False,
) -> None:
    """Print a credential as a PDF copy with a signed QR (with its receipt once anchored).

    With a certificate for the home's key (pki issue-leaf / pki import) the PDF itself is signed (PAdES)."""
    from civiccert.credential_file import CredentialFile

    issuer = open_issuer(ctx)
    try:
        issuer.print_pdf(CredentialFile.load(credential), out, require_signed=require_signed)
        signed = issuer.signs_pdf
    finally:
        issuer.close()
    info(_("printed {out}").format(out=out) + ("" if signed else _(_UNSIGNED_NOTE)))


@key_app.command("rotate")
def key_rotate(ctx: typer.Context) -> None:
    """New signing key, registered on chain; the old one is retired now and stays in 'trust export'."""
    issuer = open_issuer(ctx)
    try:
        old = issuer.key.kid
        new = issuer.rotate_key(passphrase())
    finally:
        issuer.close()
    info(_("key {old} retired; now signing with {new}").format(old=old, new=new.kid))


@key_app.command("compromised")
def key_compromised(
    ctx: typer.Context,
    since: Annotated[int, typer.Option(help="Unix time from which the old key is not to be trusted.")],
) -> None:
    """The signing key leaked: revoke it on chain from SINCE and continue with a new key."""
    issuer = open_issuer(ctx)
    try:
        old = issuer.key.kid
        try:
            new = issuer.rotate_key(passphrase(), compromised_at=since)
        except ValueError as exc:
            raise typer.BadParameter("must not precede the key's registration", param_hint="--since") from exc
    finally:
        issuer.close()
    info(_("key {old} revoked from {since}; now signing with {new}. Credentials anchored before that time stay "
           "valid; re-issue the others.").format(old=old, since=since, new=new.kid))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Directory for the demo's files.")] = Path("demo-out"),
    chain: Annotated[str, typer.Option(help="embedded (no node) or anvil (starts and stops one).")] = "embedded",
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """The main job end to end: issue, anchor, print, scan, verify, revoke, verify again."""
    from civiccert.demo import run_demo

    if chain not in ("embedded", "anvil"):
        raise typer.BadParameter("embedded or anvil", param_hint="--chain")
    report = run_demo(out, chain=chain, echo=None if as_json else info)
    if as_json:
        emit_json(report)
    if not report["ok"]:
        raise typer.Exit(1)


__all__ = ["app", "require_home"]
