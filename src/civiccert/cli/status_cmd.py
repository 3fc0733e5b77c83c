"""``civiccert status-list publish`` and the status verbs: suspend, reinstate, supersede (revoke is in app.py).

``civiccert status`` (journal counts) stays as it was; status lists get their own group so no script breaks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civiccert.cli.common import emit_json, info, open_issuer
from civiccert.cli.errors import EXIT_UNAVAILABLE
from civiccert.i18n import _, language

__all__ = ["app", "reinstate", "supersede", "suspend"]

app = typer.Typer(help="Token Status Lists: publish the signed lists (JWT and CWT) for any web server.",
                  no_args_is_help=True)
_CRED = typer.Argument(help="Credential file (or its id).")


@app.command("publish")
def publish(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("-o", "--out", help="Directory to write the list tokens and manifest to.")],
    valid_hours: Annotated[int, typer.Option(min=1, help="Hours until the lists expire (exp).")] = 24,
    ttl: Annotated[int, typer.Option(min=0, help="Seconds verifiers may cache a list (ttl).")] = 3600,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary on stdout.")] = False,
) -> None:
    """Sign every status list and anchor the publication's hash (one transaction) when a chain is configured."""
    issuer = open_issuer(ctx)
    try:
        publication, error = issuer.publish_status(out, valid_seconds=valid_hours * 3600, ttl=ttl)
    finally:
        issuer.close()
    summary = {"out": str(out), "files": sorted(publication.files), "root": "0x" + publication.root.hex(),
               "anchored": error is None and issuer.has_chain, "error": None if error is None else error.value}
    if as_json:
        emit_json(summary)
    else:
        info(_("wrote {n} list file(s) and the manifest to {out}").format(n=len(publication.files), out=out))
    if error is not None:
        info(_("the publication is not anchored ({code}); publish again when the node is back").format(
            code=error.value))
        raise typer.Exit(EXIT_UNAVAILABLE)


def _change(ctx: typer.Context, credential: Path, verb: str) -> None:
    from civiccert.credential_file import CredentialFile

    target = CredentialFile.load(credential) if credential.is_file() else str(credential)
    issuer = open_issuer(ctx)
    try:
        entry = getattr(issuer, verb)(target)
    finally:
        issuer.close()
    from civiccert.status import LABELS

    info(_("{id}: {status} in {uri} (public at the next 'civiccert status-list publish')").format(
        id=entry.credential_id, status=LABELS[entry.status][language()], uri=entry.uri))


def suspend(ctx: typer.Context, credential: Annotated[Path, _CRED]) -> None:
    """Suspend a credential and its printed twin in the status list (reinstate undoes it)."""
    _change(ctx, credential, "suspend")


def reinstate(ctx: typer.Context, credential: Annotated[Path, _CRED]) -> None:
    """Reinstate a suspended credential."""
    _change(ctx, credential, "reinstate")


def supersede(ctx: typer.Context, credential: Annotated[Path, _CRED]) -> None:
    """Mark a credential superseded (the record changed and a newer certificate was issued)."""
    _change(ctx, credential, "supersede")
