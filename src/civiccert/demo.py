"""The main job end to end, on the embedded chain by default (no node, no network) or on a real anvil.

create an issuer → register it on chain → issue a sample household's 住民票 and a seal certificate → anchor
→ print both PDFs → rasterise and scan them back → verify (VALID) → revoke one → verify again (INVALID).
Every person in the sample data is fictitious and every printed page carries 見本.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from civiccert.chain.nodes import AnvilNode, Chain, connect, dev_account, fund_dev_account
from civiccert.chain.registry import Registry
from civiccert.i18n import N_, _
from civiccert.issuance.issuer import Issuer, RevocationReason
from civiccert.records import load_record
from civiccert.verification.online import OnlineRegistry
from civiccert.verification.result import VerificationResult
from civiccert.verification.verifier import Verifier

__all__ = ["run_demo", "sample_record_path"]

DEMO_PASSPHRASE = b"civiccert-demo-only"
SAMPLES = ("household-matsudo.json", "seal-registrant.json")
TRUST_FILE = "trust.json"  # the municipality's trust export: `civiccert verify demo-out/*.pdf --trust` it
SNAPSHOT_FILE = "registry-snapshot.json"
STATUS_DIR = "status-lists"


def sample_record_path(name: str) -> Path:
    """Path of a shipped sample record (the same files as examples/records/)."""
    return Path(str(resources.files("civiccert") / "samples" / name))


@contextlib.contextmanager
def _demo_chain(kind: str, workdir: Path) -> Iterator[Chain]:
    if kind == "embedded":
        yield connect("embedded")
        return
    with AnvilNode(state_path=workdir / "anvil-state.json") as node:
        yield connect(node.url)


def _rasterise(pdf: Path, dpi: int = 200) -> list[Path]:
    import pypdfium2 as pdfium

    pages = []
    document = pdfium.PdfDocument(str(pdf))
    try:
        for index in range(len(document)):
            image = document[index].render(scale=dpi / 72).to_pil()
            path = pdf.with_name(f"{pdf.stem}-scan-p{index + 1}.png")
            image.convert("L").save(path)
            pages.append(path)
    finally:
        document.close()
    return pages


def run_demo(out: Path, *, chain: str = "embedded", echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Run the demo into ``out``; returns a report (also what ``civiccert demo --json`` prints)."""
    say = echo or (lambda _msg: None)
    out.mkdir(parents=True, exist_ok=True)
    home = out / "issuer-home"
    started = time.perf_counter()
    report: dict[str, Any] = {"chain": chain, "files": {}, "steps": []}

    def step(text: str, shown: dict[str, Any] | None = None, **values: Any) -> None:
        """The report keeps the English step (JSON is stable); people read it in their language (``shown``:
        values that read differently for people)."""
        report["steps"].append(text.format(**values))
        say("• " + _(text).format(**{**values, **(shown or {})}))

    with _demo_chain(chain, out) as node:
        admin = dev_account(node)
        registry = Registry.deploy(node, admin)
        step(N_("registry deployed at {address} on chain {chain_id} ({kind})"), address=registry.address,
             chain_id=node.chain_id, kind=node.kind)
        if home.exists():
            import shutil

            shutil.rmtree(home)
        issuer = Issuer.init(home, municipality_code="122076", municipality_name="松戸市",
                             passphrase=DEMO_PASSPHRASE, sample=True)
        try:
            assert issuer.account is not None
            fund_dev_account(node, issuer.account.address)
            issuer.use_chain(node, registry.address)
            issuer.register_on_chain(registry)
            step(N_("issuer 松戸市 (122076) registered with key {kid}"), kid=issuer.key.kid)

            creds = [issuer.issue(load_record(sample_record_path(name))) for name in SAMPLES]
            step(N_("issued {n} credentials (住民票の写し, 印鑑登録証明書), journaled"), n=len(creds))
            issuer.anchor()
            creds = [issuer.with_receipts(c) for c in creds]
            assert all(c.receipt for c in creds)
            step(N_("anchored in block {block}"), block=creds[0].receipt["block"] if creds[0].receipt else "?")

            scans: list[Path] = []
            for cred, stem in zip(creds, ("juminhyo", "inkan"), strict=True):
                cred_path = cred.save(out / f"{stem}.credential.json")
                pdf = issuer.print_pdf(cred, out / f"{stem}.pdf")
                scans.extend(_rasterise(pdf))
                report["files"][stem] = {"credential": str(cred_path), "pdf": str(pdf)}
            report["files"]["scans"] = [str(p) for p in scans]
            step(N_("printed 2 PDFs and rasterised them at 200 dpi ({n} page images)"), n=len(scans))

            verifier = Verifier(trust=issuer.trust_export(), registry=OnlineRegistry.of(node, registry.address))
            before = _verify_all(verifier, creds, scans)
            step(N_("verified: {results}"), {"results": _results(before, people=True)}, results=_results(before))
            _leave_trust(issuer, registry, out)
            report["files"]["trust"] = str(out / TRUST_FILE)
            step(N_("trust bundle left in {out}: {trust} (keys), {snapshot} (registry)"), out=out, trust=TRUST_FILE,
                 snapshot=SNAPSHOT_FILE)

            issuer.revoke(creds[1], RevocationReason.HOLDER_REQUEST)
            step(N_("revoked the 印鑑登録証明書 (holder request)"))
            after = _verify_all(verifier, creds, scans)
            step(N_("verified again: {results}"), {"results": _results(after, people=True)},
                 results=_results(after))
            issuer.publish_status(out / STATUS_DIR)
            offline = _verify_from_files(out)
            report["files"]["status_lists"] = str(out / STATUS_DIR)
            step(N_("status lists published; offline from files only: {results}"),
                 {"results": _results(offline, people=True)}, results=_results(offline))
        finally:
            issuer.close()

    expected_after = {"juminhyo": "VALID", "inkan": "INVALID"}
    ok = all(r.verdict == "VALID" for _, r in before) and all(
        r.verdict == expected_after[name.split(" ")[0]] for name, r in [*after, *offline])
    report["before"] = {name: r.to_dict()["verdict"] for name, r in before}
    report["offline_after"] = {name: r.to_dict()["verdict"] for name, r in offline}
    report["after"] = {name: r.to_dict()["verdict"] for name, r in after}
    report["ok"] = ok
    report["seconds"] = round(time.perf_counter() - started, 2)
    done = _("✓ demo passed in {seconds} s; files in {out}") if ok else \
        _("✗ demo FAILED in {seconds} s; files in {out}")
    say(done.format(seconds=report["seconds"], out=out))
    return report


def _leave_trust(issuer: Issuer, registry: Registry, out: Path) -> None:
    """What a stranger needs to verify the demo's files after the chain is gone: the city's keys and a
    registry snapshot (with those keys merged in), both plain files."""
    from civiccert.verification.trust import snapshot_from_registry

    export = issuer.trust_export()
    export.save(out / TRUST_FILE)
    snapshot_from_registry(registry.trust_snapshot()).with_jwks_from(export).save(out / SNAPSHOT_FILE)


def _verify_from_files(out: Path) -> list[tuple[str, VerificationResult]]:
    """Offline, from the files in ``out`` only: the trust export and the published status lists."""
    from civiccert.status.source import StatusListSource
    from civiccert.verification.trust import TrustSnapshot

    verifier = Verifier(trust=TrustSnapshot.load(out / TRUST_FILE),
                        status_lists=StatusListSource(directory=out / STATUS_DIR))
    return [(f"{stem} (offline {stem}.pdf)", result) for stem in ("juminhyo", "inkan")
            for result in verifier.verify_path(out / f"{stem}.pdf")]


_COPIES = {"juminhyo": N_("住民票の写し"), "inkan": N_("印鑑登録証明書")}
_FORMS = {"digital": N_("digital"), "scan": N_("scan"), "offline": N_("offline")}
_VERDICTS = {"VALID": N_("VALID"), "INVALID": N_("INVALID"), "INDETERMINATE": N_("INDETERMINATE")}


def _results(results: list[tuple[str, VerificationResult]], *, people: bool = False) -> str:
    """Each copy's verdict, with the reason codes when not VALID (codes stay ASCII in any language);
    ``people``: copy names, forms and verdicts in the current language."""
    parts = []
    for name, r in results:
        reasons = f" ({', '.join(r.reasons)})" if r.reasons else ""
        if people:
            stem, _sep, form = name.partition(" (")
            kind, _sep, file = form.rstrip(")").partition(" ")
            where = _(_FORMS.get(kind, kind)) + (f" {file}" if file else "")
            name = f"{_(_COPIES.get(stem, stem))} ({where})"  # noqa: PLW2901
            parts.append(f"{name} {_(_VERDICTS.get(r.verdict, r.verdict))}{reasons}")
        else:
            parts.append(f"{name} {r.verdict}{reasons}")
    return ", ".join(parts)


def _verify_all(verifier: Verifier, creds: list[Any], scans: list[Path]) -> list[tuple[str, VerificationResult]]:
    results: list[tuple[str, VerificationResult]] = []
    for cred, stem in zip(creds, ("juminhyo", "inkan"), strict=True):
        results.append((f"{stem} (digital)", verifier.verify(cred)))
    for scan in scans:
        stem = "juminhyo" if scan.name.startswith("juminhyo") else "inkan"
        for result in verifier.verify_path(scan):
            results.append((f"{stem} (scan {scan.name})", result))
    return results
