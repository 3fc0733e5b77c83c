"""``civiccert pki``: certificates for the issuer key (a TEST CA for development; a real chain in production)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civiccert.cli.common import info, require_home
from civiccert.i18n import _

app = typer.Typer(help="X.509 certificates for the signing key: a TEST CA for development, or import the "
                       "municipality's real LGPKI chain.", no_args_is_help=True)


@app.command("init-test-ca")
def init_test_ca(
    directory: Annotated[Path, typer.Argument(help="Directory for the TEST root, intermediate, keys and CRL.")],
    years: Annotated[int, typer.Option(min=1, max=30, help="Validity of the CA certificates.")] = 10,
) -> None:
    """Create a TEST root and intermediate (subjects say "TEST ... not for production"; keys unencrypted)."""
    from civiccert.pki import TestCA

    ca = TestCA.create(directory, years=years)
    info(_("TEST CA in {directory}: verifiers trust {root}; CRL {crl}").format(
        directory=directory, root=directory / "root.pem", crl=ca.crl_path))


@app.command("issue-leaf")
def issue_leaf(
    ctx: typer.Context,
    ca: Annotated[Path, typer.Option(help="A directory made by 'civiccert pki init-test-ca'.")],
    days: Annotated[int, typer.Option(min=1, max=3650, help="Validity of the leaf certificate.")] = 825,
) -> None:
    """Certify the home's current key with the TEST CA and store the chain in HOME/keys/chain.pem."""
    from civiccert.issuance.home import HomeConfig
    from civiccert.pki import TestCA
    from civiccert.pki.home import issue_test_leaf, issuer_url

    home = require_home(ctx)
    leaf = issue_test_leaf(home, TestCA.load(ca), days=days)
    info(_("leaf {subject} until {until}; credentials now carry x5c and iss {iss}").format(
        subject=leaf.subject.rfc4514_string(), until=f"{leaf.not_valid_after_utc:%Y-%m-%d}",
        iss=issuer_url(HomeConfig.load(home))))


@app.command("import")
def import_chain(
    ctx: typer.Context,
    chain: Annotated[Path, typer.Argument(help="PEM file: the leaf certifying this home's key, then its "
                                          "intermediates (a root in it is dropped).")],
    trust_anchors: Annotated[Path | None, typer.Option(help="PEM roots to validate the chain against now.")] = None,
    crl: Annotated[list[Path] | None, typer.Option(help="CRL file(s) (PEM or DER) checked with --trust-anchors.")
                   ] = None,
    issuer_url: Annotated[str | None, typer.Option(help="HTTPS issuer identifier (default: the leaf's URI "
                                                   "name).")] = None,
) -> None:
    """Install a production certificate chain: its leaf must certify this home's key and municipality."""
    import time

    from civiccert.pki import TrustAnchors, encode_x5c, load_pem_chain
    from civiccert.pki.home import install_chain

    home = require_home(ctx)
    try:
        certs = load_pem_chain(chain.read_bytes(), field="chain")
    except OSError as exc:
        raise typer.BadParameter("chain file unreadable", param_hint="CHAIN") from exc
    if issuer_url is not None and not issuer_url.startswith("https://"):
        raise typer.BadParameter("must be an https:// URL", param_hint="--issuer-url")
    if trust_anchors is not None:
        sent = [c for c in certs if c.issuer != c.subject]
        TrustAnchors.from_files(trust_anchors, crl or []).validate(encode_x5c(sent), int(time.time()))
    config = install_chain(home, certs, issuer_url_override=issuer_url)
    info(_("chain installed for {name} ({code}); iss {iss}").format(
        name=config.municipality_name, code=config.municipality_code, iss=config.extra.get("issuer_url")))
