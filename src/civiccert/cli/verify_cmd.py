"""``civiccert verify``: for businesses. The exit code carries the verdict (0 VALID, 1 INVALID, 2 INDETERMINATE)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from civiccert.cli.common import emit_json, info, reader_may_leave
from civiccert.cli.errors import EXIT_DATA, EXIT_NOINPUT
from civiccert.errors import CivicCertError, ReasonCode
from civiccert.i18n import _, set_language
from civiccert.i18n import language as current_language

__all__ = ["exit_code", "is_verdict", "verify"]

_EXIT = {"VALID": 0, "INVALID": 1, "INDETERMINATE": 2}
_CHUNK = 500
_PROGRESS_FROM = 20
_TEXT_SUFFIXES = {".json", ".txt", ".sdjwt", ".jwt"}


def verify(
    inputs: Annotated[list[str], typer.Argument(help="Credential file, presentation, photo/scan (PNG, JPEG, "
                                                "TIFF, WebP, BMP), PDF, "
                                                "a directory of them, or - for stdin.")],
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL of the chain (online checks).")] = None,
    registry: Annotated[str | None, typer.Option(help="Registry contract address (default: the one a registry "
                                                 "snapshot in --trust names; both must agree).")] = None,
    trust: Annotated[list[Path] | None, typer.Option(help="Trust file(s): a municipality's export or a "
                                                      "registry snapshot (offline).")] = None,
    offline: Annotated[bool, typer.Option(help="Make no network call at all (needs --trust).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Stable JSON on stdout (docs/verify-json.md).")] = False,
    lang: Annotated[str | None, typer.Option(help="ja or en (default: the global --lang, CIVICCERT_LANG, "
                                             "else from the locale).")] = None,
    require_holder_binding: Annotated[bool, typer.Option(help="Require a key-binding JWT.")] = False,
    aud: Annotated[str | None, typer.Option(help="Expected audience of the key-binding JWT.")] = None,
    nonce: Annotated[str | None, typer.Option(help="Expected nonce of the key-binding JWT.")] = None,
    trust_anchors: Annotated[Path | None, typer.Option(help="PEM file of X.509 roots (e.g. LGPKI's) for "
                                                       "credentials carrying a certificate chain (x5c).")] = None,
    crl: Annotated[list[str] | None, typer.Option(help="CRL file(s) or https URL(s), PEM or DER, checked with "
                                                  "--trust-anchors (a URL is fetched once, bounded).")] = None,
    max_trust_age: Annotated[int | None, typer.Option(
        min=0, help="Oldest acceptable trust file, in seconds (default: the file's own expiry; 7 days for "
                    "registry snapshots).")] = None,
    rpc_deadline: Annotated[float, typer.Option(help="Most seconds one JSON-RPC call may take in all.")] = 30.0,
    rpc_max_response: Annotated[int, typer.Option(help="Largest JSON-RPC reply accepted, in bytes.")] = 8 << 20,
    status_lists: Annotated[Path | None, typer.Option(
        help="Directory of published status lists (civiccert status-list publish): revocation checked offline.")
    ] = None,
    fetch_status: Annotated[bool, typer.Option(
        help="Fetch each credential's status list from its https URI (bounded; not with --offline).")] = False,
    at: Annotated[str | None, typer.Option(
        help="Was it valid then: ISO 8601 time with its offset (2026-11-30T10:00:00+09:00); validity and the "
             "status from the status-list publication anchored as current then.")] = None,
    status_allow_http_loopback: Annotated[bool, typer.Option(
        help="Development only: let --fetch-status reach a status list on this machine (loopback, http).")
    ] = False,
    jobs: Annotated[int, typer.Option(min=0, help="Worker processes for many offline inputs (0: one per core; "
                                      "1: no pool).")] = 0,
) -> None:
    """Verify credentials, presentations and printed copies: VALID / INVALID / INDETERMINATE with every check."""
    from civiccert.verification.trust import TrustSnapshot
    from civiccert.verification.verifier import Policy, Verifier

    if lang is not None and lang not in ("ja", "en"):
        raise typer.BadParameter("ja or en", param_hint="--lang")
    if lang is not None:
        set_language(lang)
    language = current_language()
    if require_holder_binding and not (aud and nonce):
        raise typer.BadParameter("--require-holder-binding needs --aud and --nonce", param_hint="--aud/--nonce")
    if offline and (rpc or registry):
        raise typer.BadParameter("--offline excludes --rpc/--registry", param_hint="--offline")
    if registry and not rpc:
        raise typer.BadParameter("--registry needs --rpc", param_hint="--rpc/--registry")
    if offline and not (trust or trust_anchors):
        raise typer.BadParameter("--offline needs a --trust file or --trust-anchors", param_hint="--offline")
    if registry is not None and not _is_address(registry):
        raise typer.BadParameter("not a 20-byte hex address (0x…, EIP-55 checksum if mixed case)",
                                 param_hint="--registry")
    if rpc_deadline <= 0 or rpc_max_response <= 0:
        raise typer.BadParameter("must be positive", param_hint="--rpc-deadline/--rpc-max-response")
    snapshot = TrustSnapshot.load_many(trust) if trust else None
    online = None
    if rpc:
        from civiccert.chain.nodes import connect
        from civiccert.verification.online import OnlineRegistry

        # the registry is pinned by a registry snapshot (trust sync); --registry must then name the same one
        address = registry or (snapshot.registry if snapshot is not None else None)
        if not address:
            raise typer.BadParameter("--rpc needs --registry or a registry snapshot (trust sync) in --trust",
                                     param_hint="--rpc/--registry")
        chain_id = snapshot.chain_id if snapshot is not None else None
        online = OnlineRegistry.lazy(lambda: connect(rpc, expected_chain_id=chain_id, deadline=rpc_deadline,
                                                        max_response_bytes=rpc_max_response), address)
    policy = Policy(require_holder_binding=require_holder_binding, aud=aud, nonce=nonce,
                    max_trust_age_seconds=max_trust_age, at=None if at is None else _posix_time(at))
    if status_allow_http_loopback and not fetch_status:
        raise typer.BadParameter("needs --fetch-status", param_hint="--status-allow-http-loopback")
    if offline and any(c.startswith(("https://", "http://")) for c in crl or []):
        raise typer.BadParameter("--offline excludes a CRL URL (give the file)", param_hint="--offline/--crl")
    if offline and fetch_status:
        raise typer.BadParameter("--offline excludes --fetch-status", param_hint="--offline")
    source = None
    if status_lists is not None or fetch_status:
        from civiccert.status import StatusListSource

        if status_lists is not None and not status_lists.is_dir():
            raise typer.BadParameter("not a directory", param_hint="--status-lists")
        source = StatusListSource(directory=status_lists, fetch=fetch_status,
                                  allow_loopback_http=status_allow_http_loopback)
    anchors = None
    if trust_anchors is not None:
        from civiccert.pki import TrustAnchors

        anchors = TrustAnchors.from_files(trust_anchors, crl or [])
    elif crl:
        raise typer.BadParameter("--crl needs --trust-anchors", param_hint="--crl")
    verifier = Verifier(trust=snapshot, registry=online, policy=policy, trust_anchors=anchors,
                        status_lists=source)

    from civiccert.inputs import InputItem, read_inputs

    items: list[InputItem] = []
    failures: list[dict[str, str]] = []
    expanded = _expand(inputs)
    if not expanded:
        info(_("nothing to verify: no credential, presentation, image or PDF among the inputs"))
        raise typer.Exit(EXIT_DATA)
    results: list[dict[str, Any]] = []
    from civiccert.cli.bulk import POOL_THRESHOLD, verify_paths, workers

    processes = min(workers(), jobs) if jobs else workers()
    pooled = online is None and anchors is None and source is None  # what a worker can rebuild from files
    if pooled and processes > 1 and len(expanded) >= POOL_THRESHOLD and "-" not in inputs:
        # offline bulk: every core reads, verifies and renders; each chunk is written as soon as it is next
        with reader_may_leave():
            bulk = verify_paths(expanded, trust or [], policy, processes, lang=language, as_json=as_json,
                                colour=not as_json and sys.stdout.isatty(), single=len(inputs) == 1)
            if not as_json:
                from civiccert.cli.render import render_tail

                render_tail(bulk.counts, bulk.failures)
        code = exit_code(bulk.counts, bulk.any_verdict, bulk.failures)
        raise typer.Exit(code)
    for item, label in expanded:
        try:
            items.extend([_stdin_item()] if item == "-" else read_inputs(Path(item)))
        except CivicCertError as exc:
            failures.append({"source": label, "code": exc.code.value})
    if len(items) < _PROGRESS_FROM:  # a few files: no progress bar, and rich.progress is not even loaded
        results.extend(r.to_dict() for r in verifier.verify_items(items))
    elif items:
        from rich.progress import Progress

        with Progress(transient=True, console=_stderr_console()) as bar:
            task = bar.add_task("verifying", total=len(items))
            for start in range(0, len(items), _CHUNK):  # one JSON-RPC batch per chunk
                chunk = verifier.verify_items(items[start:start + _CHUNK])
                results.extend(r.to_dict() for r in chunk)
                bar.update(task, advance=len(chunk))

    counts: dict[str, int] = {}
    for result in results:
        counts[result["verdict"]] = counts.get(result["verdict"], 0) + 1
    code = exit_code(counts, any(is_verdict(r) for r in results), failures)
    with reader_may_leave():  # '| head -1' still exits with the verdict
        if as_json:
            emit_json(results[0] if len(results) == 1 and not failures and len(inputs) == 1
                      else {"results": results, "unreadable": failures})
        else:
            from civiccert.cli.render import render_results

            render_results(results, failures, language)
    raise typer.Exit(code)


def exit_code(counts: dict[str, int], any_verdict: bool, failures: list[dict[str, str]]) -> int:
    """The verdict's code from the results' ``counts`` by verdict and whether ``any_verdict`` is one
    (``is_verdict``); 65 when nothing was even a civiccert credential, 66 when no input file existed."""
    if not any_verdict:
        if not any(counts.values()) and failures and \
                all(f["code"] == ReasonCode.INPUT_NOT_FOUND.value for f in failures):
            return EXIT_NOINPUT
        return EXIT_DATA
    verdicts = {verdict for verdict, count in counts.items() if count}
    worst = "INVALID" if "INVALID" in verdicts else "INDETERMINATE" if "INDETERMINATE" in verdicts or failures \
        else "VALID"
    return _EXIT[worst]


def is_verdict(result: dict[str, Any]) -> bool:
    """A result is a verdict on a credential (not bad input) when it parsed as one of our forms, or when a
    trusted issuer's signature verified on it (a signed credential of an unknown type is INVALID, exit 1)."""
    outcomes = {c["check"]: c["outcome"] for c in result["checks"]}
    return outcomes.get("format") not in (None, "failed") or outcomes.get("signature") == "passed"


def _is_address(value: str) -> bool:
    """0x and 40 hex digits; mixed case must be a valid EIP-55 checksum (a typo must not pass silently)."""
    from eth_utils.address import is_checksum_address

    body = value[2:] if value.startswith("0x") else ""
    if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
        return False
    return body in (body.lower(), body.upper()) or is_checksum_address(value)


def _expand(inputs: list[str]) -> list[tuple[str, str]]:
    from civiccert.inputs import SCAN_SUFFIXES

    suffixes = _TEXT_SUFFIXES | SCAN_SUFFIXES
    items: list[tuple[str, str]] = []
    for raw in inputs:
        path = Path(raw)
        if raw != "-" and path.is_dir():
            # by name (what sorting the Paths of one directory gives), file type from the directory listing:
            # sorting and stat-ing 10,000 Path objects cost the parent ~0.2 s before any worker could start
            with os.scandir(path) as listing:
                names = sorted(entry.name for entry in listing
                               if os.path.splitext(entry.name)[1].lower() in suffixes and entry.is_file())
            items.extend((str(path / name), name) for name in names)
        else:
            items.append((raw, "stdin" if raw == "-" else path.name))
    return items


def _stdin_item() -> Any:
    from civiccert.errors import CredentialError
    from civiccert.inputs import MAX_INPUT_BYTES, InputItem

    data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise CredentialError(ReasonCode.INPUT_TOO_LARGE, "standard input is too large")
    try:
        return InputItem(data.decode("utf-8").strip(), "stdin")
    except UnicodeDecodeError as exc:
        raise CredentialError(ReasonCode.MALFORMED, "standard input is not UTF-8 text") from exc


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _posix_time(text: str) -> int:
    """An ISO 8601 time with an explicit offset, as POSIX seconds (no offset: which day would it be?)."""
    import datetime

    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter("not an ISO 8601 time (2026-11-30T10:00:00+09:00)", param_hint="--at") from exc
    if when.tzinfo is None:
        raise typer.BadParameter("give the offset (+09:00 or Z)", param_hint="--at")
    return int(when.timestamp())
