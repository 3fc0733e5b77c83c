"""``civiccert trust``: write trust files for offline verifiers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civiccert.cli.common import info, open_issuer, require_home
from civiccert.i18n import _

app = typer.Typer(help="Trust files: a municipality's own keys, or a snapshot of the on-chain registry.",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command()
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("-o", "--out", help="Trust file to write.")],
    valid_days: Annotated[int, typer.Option(min=1, max=3660, help="Days verifiers may rely on this file "
                                            "(publish a new one before then).")] = 90,
    sign: Annotated[bool, typer.Option("--sign", help="Sign it with the home's certified key (x5c; needs the "
                                       "passphrase or PIN): what verifiers with --trust-anchors require.")] = False,
) -> None:
    """Write this issuer's public keys as a trust file (what a municipality publishes; no passphrase needed
    unless --sign)."""
    from civiccert.issuance.publish import trust_export

    snapshot = trust_export(require_home(ctx), valid_days=valid_days)
    if sign:
        from civiccert.fileio import write_atomic

        issuer = open_issuer(ctx)
        try:
            write_atomic(out, issuer.signed_trust_export(valid_days=valid_days).encode("utf-8"), mode=0o644)
        finally:
            issuer.close()
    else:
        snapshot.save(out)
    name = snapshot.municipalities[next(iter(snapshot.municipalities))].name
    info(_("trust file for {name} -> {out} (valid {days} days)").format(name=name, out=out, days=valid_days))


@app.command()
def sync(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL.")],
    registry: Annotated[str, typer.Option(help="Registry contract address.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Trust file to write.")],
    merge: Annotated[list[Path] | None, typer.Option(help="Trust files whose public keys to keep (issuer "
                                                     "exports): the chain holds thumbprints only.")] = None,
) -> None:
    """Snapshot every municipality and key of the registry (with its block and time)."""
    from civiccert.chain.nodes import connect
    from civiccert.chain.registry import Registry
    from civiccert.verification.trust import TrustSnapshot, snapshot_from_registry

    snapshot = snapshot_from_registry(Registry(connect(rpc), registry).trust_snapshot())
    if merge:
        published = TrustSnapshot.load_many(merge)
        if published is not None:
            snapshot = snapshot.with_jwks_from(published)
    snapshot.save(out)
    info(_("{municipalities} municipalities, {keys} keys at block {block} -> {out}").format(
        municipalities=len(snapshot.municipalities), keys=len(snapshot.keys), block=snapshot.block, out=out))


@app.command("issuer-metadata")
def issuer_metadata(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("-o", "--out", help="File to write (publish it at "
                                      "<iss>/.well-known/jwt-vc-issuer).")],
) -> None:
    """Write the JWT VC Issuer Metadata document: the issuer and its public key (with x5c when certified)."""
    import json

    from civiccert.fileio import write_atomic
    from civiccert.pki.home import issuer_metadata as metadata

    document = metadata(require_home(ctx))
    write_atomic(out, (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8"), mode=0o644)
    info(_("issuer metadata for {issuer} -> {out}").format(issuer=document["issuer"], out=out))
