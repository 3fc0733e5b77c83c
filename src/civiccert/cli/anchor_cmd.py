"""``civiccert anchor`` and ``civiccert status``: what went on chain, and what is left.

``anchor`` exits 0 only when nothing is left (every credential anchored, every revocation on chain);
otherwise it says in one line what is left and what to do, and exits 69. Both still report the journal's
counts when the node is down, since the journal alone knows what is pending. ``anchor --watch`` is the
anchoring worker for a host without ``civiccert serve``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from civiccert.cli.common import emit_json, info, open_issuer
from civiccert.cli.errors import EXIT_UNAVAILABLE, next_step_for
from civiccert.errors import ChainError, ReasonCode
from civiccert.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from civiccert.issuance.anchoring import BatchOutcome

__all__ = ["anchor", "anchor_report", "status"]

_JSON = typer.Option("--json", help="Machine-readable output on stdout.")


def _run(ctx: typer.Context, *, anchoring: bool) -> tuple[list[BatchOutcome], dict[str, Any], ChainError | None]:
    """Anchor (or only count); a chain failure is reported with the counts instead of ending the command."""
    issuer = open_issuer(ctx)  # never needs the node: counts come from the journal
    failure: ChainError | None = None
    outcomes: list[BatchOutcome] = []
    try:
        if anchoring:
            from rich.console import Console
            from rich.progress import Progress

            console = Console(stderr=True)
            try:
                with Progress(transient=True, console=console, disable=not console.is_terminal) as bar:
                    task = bar.add_task("anchoring", total=None)
                    outcomes = issuer.anchor(progress=lambda done, total: bar.update(task, completed=done,
                                                                                     total=total))
            except ChainError as exc:
                failure = exc
        counts = issuer.status()
    finally:
        issuer.close()
    return outcomes, counts, failure


def anchor_report(outcomes: list[BatchOutcome], counts: dict[str, Any], failure: ChainError | None
                  ) -> dict[str, Any]:
    """The ``--json`` object: what this run anchored, each batch it touched, and what is left."""
    from civiccert.issuance.journal import BatchState

    done = [o for o in outcomes if o.state is BatchState.ANCHORED]
    left = int(counts.get("pending", 0)) + int(counts.get("batched", 0)) + int(counts.get("sent", 0))
    error = failure.code.value if failure is not None else counts.get("last_error")
    return {
        "anchored_batches": len(done),
        "anchored_credentials": sum(o.size for o in done),
        "transactions": sorted({o.tx_hash for o in done if o.tx_hash}),
        "batches": [{"batch_id": o.batch_id, "size": o.size, "state": o.state.value, "tx": o.tx_hash,
                     "block": o.block_number, "error": o.error.value if o.error else None} for o in outcomes],
        "left": left,
        "failed": int(counts.get("failed", 0)),
        "revocations_open": int(counts.get("revocations_open", 0)),
        "error": error,
        "complete": left == 0 and not counts.get("revocations_open") and failure is None,
        "status": counts,
    }


def _summary(report: dict[str, Any]) -> str:
    txs = report["transactions"]
    shown = ", ".join(txs[:3]) + (_(" and {n} more").format(n=len(txs) - 3) if len(txs) > 3 else "")
    batches = report["anchored_batches"]
    anchored = ngettext("anchored {n} batch ({credentials:,} credentials)",
                        "anchored {n} batches ({credentials:,} credentials)", batches).format(
        n=batches, credentials=report["anchored_credentials"]) + (_(" in tx {txs}").format(txs=shown) if txs else "")
    return anchored + _("; left {left:,}, failed {failed:,}, revocations open {open:,}").format(
        left=report["left"], failed=report["failed"], open=report["revocations_open"])


def _left_line(report: dict[str, Any], failure: ChainError | None, next_attempt_at: float | None) -> str:
    """One line: the reason code, what is left, and the next step."""
    code = ReasonCode(report["error"]) if report["error"] else ReasonCode.NOT_ANCHORED
    what = _("{left:,} credentials not anchored yet ({failed:,} in failed batches)").format(
        left=report["left"], failed=report["failed"])
    if report["revocations_open"]:
        what += _(", {n:,} revocations not on chain yet").format(n=report["revocations_open"])
    step = next_step_for(failure) if failure is not None else None
    when = "" if not next_attempt_at else _(" (due again at {time})").format(
        time=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(next_attempt_at)))
    return f"error: {code.value}: {what}. " + (f"{step} " if step else "") + \
        _("Then run 'civiccert anchor' again{when}; 'civiccert status' shows where it stands.").format(when=when)


def anchor(
    ctx: typer.Context,
    as_json: Annotated[bool, _JSON] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Keep running: anchor whenever a batch is full or "
                                        "max_batch_age_seconds has passed, until SIGTERM/SIGINT.")] = False,
    interval: Annotated[float, typer.Option(help="With --watch: seconds between checks.", min=0.1)] = 1.0,
) -> None:
    """Anchor every pending credential now (one transaction per batch); exits 69 while anything is left.
    With --watch, keep anchoring (batch full or old enough) with backoff through node outages."""
    if watch:
        from civiccert.service.logs import configure_logging
        from civiccert.service.worker import AnchorWorker, run_until_signalled

        issuer = open_issuer(ctx)
        configure_logging()
        try:
            run_until_signalled(AnchorWorker(issuer, interval=interval))
        finally:
            issuer.close()
        return
    outcomes, counts, failure = _run(ctx, anchoring=True)
    report = anchor_report(outcomes, counts, failure)
    if as_json:
        emit_json(report)
    else:
        info(_summary(report))
    if not report["complete"]:
        info(_left_line(report, failure, counts.get("next_attempt_at")))
        raise typer.Exit(EXIT_UNAVAILABLE)


# ``civiccert status`` rows: the journal's count names (JSON keys, unchanged) shown for people
_STATUS_LABELS = {
    "pending": N_("pending"), "batched": N_("batched"), "sent": N_("sent"), "anchored": N_("anchored"),
    "failed": N_("failed"), "revocations_open": N_("revocations_open"), "open_batches": N_("open_batches"),
    "last_error": N_("last_error"), "next_attempt_at": N_("next_attempt_at"),
}


def status(ctx: typer.Context, as_json: Annotated[bool, _JSON] = False) -> None:
    """Pending, anchored and failed counts of this issuer's journal (from the journal alone if the node is down)."""
    from civiccert.cli.render import pad_left

    _outcomes, counts, failure = _run(ctx, anchoring=False)
    if failure is not None:
        info(_("note: {code}: the node did not answer; counts are from the journal alone").format(
            code=failure.code.value))
    if as_json:
        emit_json(counts)
        return
    for name, count in counts.items():
        if name == "next_attempt_at" and count:
            count = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(count))  # noqa: PLW2901
        label = _(_STATUS_LABELS[name]) if name in _STATUS_LABELS else name
        typer.echo(f"{pad_left(label, 16)}  {'-' if count is None else count}")
