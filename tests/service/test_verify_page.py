"""The verifier web page in a real browser: Debian's Chromium driven by Playwright against a ``civiccert serve``
subprocess (anvil chain, anchoring worker), with real files: the printed PDF, a forged PDF, a phone-like photo,
a revoked credential file, and the camera (Chromium's fake camera playing a video of the printed QR).

Screenshots go to docs/screenshots/ (kept in the repository, looked at by a person) when
CIVICCERT_UPDATE_SCREENSHOTS=1, else to a temporary folder.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageFilter

import civiccert as cc
from civiccert.paper import decode_qr_text, qr_text, render_pdf, scan, scan_image

from servicekit import REPO, Clients, Server, served
from worldkit import make_world

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CIVICCERT_CHROMIUM", "/usr/bin/chromium"))
# the kept screenshots are refreshed only on request (CIVICCERT_UPDATE_SCREENSHOTS=1), so a test run leaves the
# tree clean; otherwise they go to a temporary folder (the code path is exercised all the same)
SHOTS = REPO / "docs" / "screenshots" if os.environ.get("CIVICCERT_UPDATE_SCREENSHOTS") == "1" else \
    Path(os.environ.get("TMPDIR", "/tmp")) / "civiccert-screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


@dataclass
class Files:
    server: Server
    genuine: Path
    forged: Path
    photo: Path
    revoked: Path
    camera: Path  # a Y4M video of the printed QR, for Chromium's fake camera


def _wait_anchored(api: httpx.Client, clients: Clients, credential_id: str) -> None:
    deadline = time.time() + 30
    while api.get(f"/v1/credentials/{credential_id}", headers=clients.headers("clerk")).json()["state"] != "anchored":
        assert time.time() < deadline, "the worker did not anchor"
        time.sleep(0.2)


def _issue_anchored(api: httpx.Client, clients: Clients, record: Any, key: str) -> dict[str, Any]:
    issued = api.post("/v1/credentials", json={"record": record}, headers=clients.headers("clerk", key))
    assert issued.status_code == 201, issued.text
    credential = issued.json()["credential"]
    _wait_anchored(api, clients, credential["id"])
    # the paper twin is anchored in a batch of its own (small QR proofs), possibly a worker round later: a copy
    # printed before that carries no receipt in its QR, so wait for both receipts
    deadline = time.time() + 30
    while True:
        response = api.post("/v1/credentials/receipt", json=credential, headers=clients.headers("clerk"))
        updated = dict(response.json()["credential"])
        if response.json()["anchored"] is True and updated.get("paper_receipt"):
            return updated
        assert time.time() < deadline, "the worker did not anchor the paper twin"
        time.sleep(0.2)


def _forge(genuine: Path, out: Path) -> None:
    """The printed copy with one character of a name changed inside the signed QR payload (and on the page)."""
    [hit] = scan(genuine)
    payload = decode_qr_text(hit.text)
    original, changed = "太郎".encode(), "次郎".encode()
    assert original in payload.cose
    tampered = decode_qr_text(qr_text(payload.cose.replace(original, changed, 1), payload.receipt))
    render_pdf(tampered.vct, tampered.claims, qr_text(tampered.cose, payload.receipt), out)


def _page_image(pdf: Path, dpi: int) -> Image.Image:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        return document[0].render(scale=dpi / 72).to_pil().convert("RGB")
    finally:
        document.close()


def _photo(pdf: Path, out: Path) -> None:
    """Like a phone photo of the paper: 200 dpi, held a little askew, slightly out of focus, JPEG."""
    image = _page_image(pdf, 200).rotate(3, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(236, 232, 224))
    image.filter(ImageFilter.GaussianBlur(0.8)).save(out, "JPEG", quality=85)


def _camera_video(pdf: Path, out: Path) -> None:
    """One 1280x720 frame (Chromium loops it) showing the QR as a camera held over the paper would."""
    image = _page_image(pdf, 300)
    [hit] = scan_image(image.convert("L"))
    xs, ys = [p[0] for p in hit.position], [p[1] for p in hit.position]
    margin = (max(xs) - min(xs)) // 3
    crop = image.crop((min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin))
    crop.thumbnail((1280, 720))
    frame = Image.new("RGB", (1280, 720), (200, 200, 200))
    frame.paste(crop, ((1280 - crop.width) // 2, (720 - crop.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (640, 360)
    body = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    out.write_bytes(b"YUV4MPEG2 W1280 H720 F5:1 Ip A1:1 C420jpeg\nFRAME\n" + body)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, anvil_chain: cc.Chain) -> Iterator[Files]:
    folder = tmp_path_factory.mktemp("page")
    world = make_world(folder, chain=anvil_chain)
    with served(world, folder, batch_age=0) as (clients, server):
        record = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
        with httpx.Client(base_url=server.url, timeout=60) as api:
            genuine_cred = _issue_anchored(api, clients, record, "page-genuine-01")
            pdf = api.post("/v1/credentials/print", json=genuine_cred, headers=clients.headers("clerk"))
            genuine = folder / "genuine.pdf"
            genuine.write_bytes(pdf.content)
            revoked_cred = _issue_anchored(api, clients, record, "page-revoked-01")
            revoke = api.post(f"/v1/credentials/{revoked_cred['id']}/revoke", json={"reason": "superseded"},
                              headers=clients.headers("supervisor", "page-revoke-01"))  # fmt: skip
            assert revoke.status_code == 202, revoke.text
        revoked = folder / "revoked.json"
        revoked.write_text(json.dumps(revoked_cred, ensure_ascii=False), encoding="utf-8")
        forged, photo, camera = folder / "forged.pdf", folder / "photo.jpg", folder / "camera.y4m"
        _forge(genuine, forged)
        _photo(genuine, photo)
        _camera_video(genuine, camera)
        yield Files(server, genuine, forged, photo, revoked, camera)
    log = server.log.read_text(errors="replace")
    assert "見本" not in log  # no personal data in the logs
    assert "太郎" not in log


@pytest.fixture(scope="module")
def browser(files: Files) -> Iterator[Any]:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian package chromium; scripts/setup installs it)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="PyPI playwright is not installed")
    camera = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={files.camera}"]  # fmt: skip
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS + camera, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, files: Files) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1000, "height": 900}, locale="ja-JP", permissions=["camera"])
    tab = context.new_page()
    tab.goto(files.server.url + "/verify")
    try:
        yield tab
    finally:
        context.close()


def _upload(page: Any, path: Path) -> Any:
    page.set_input_files("#file", str(path))
    page.click("#verify")
    page.wait_for_selector(".result .verdict", timeout=60_000)
    return page.locator(".result").first


def _codes(result: Any) -> dict[str, str]:
    """Check label (as shown) → reason code, from the rendered table."""
    rows = result.locator("tbody tr")
    return {rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("code").inner_text()
            for i in range(rows.count())}  # fmt: skip


def _shot(page: Any, name: str, *, height: int = 1300) -> None:
    """The top of the page (verdict, checks, first claims), as a small palette PNG to keep the repository light."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    image = image.crop((0, 0, image.width, min(height, image.height)))
    image.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(SHOTS / name, optimize=True)


def test_genuine_pdf_is_valid_with_claims_in_wareki(page: Any, files: Files) -> None:
    assert page.evaluate("document.documentElement.lang") == "ja"
    result = _upload(page, files.genuine)
    verdict = result.locator(".verdict")
    assert "VALID" in (verdict.get_attribute("class") or "").split()
    assert "有効" in verdict.inner_text()
    codes = _codes(result)
    assert (codes["署名"], codes["ブロックチェーン記録"], codes["失効"]) == ("ok", "ok", "ok")
    claims = result.locator(".claims").inner_text()
    assert "見本　太郎" in claims
    assert "昭和" in claims or "平成" in claims  # birth dates in 和暦
    assert page.evaluate("document.activeElement.id") == "results"  # focus moves to the answer
    _shot(page, "verify-valid-ja.png")


def test_forged_pdf_is_invalid_by_its_signature(page: Any, files: Files) -> None:
    result = _upload(page, files.forged)
    assert "INVALID" in (result.locator(".verdict").get_attribute("class") or "").split()
    assert "無効" in result.locator(".verdict").inner_text()
    assert _codes(result)["署名"] == "signature_invalid"
    _shot(page, "verify-forged-ja.png")


def test_photo_of_the_printed_copy_is_valid(page: Any, files: Files) -> None:
    result = _upload(page, files.photo)
    assert "VALID" in (result.locator(".verdict").get_attribute("class") or "").split()


def test_revoked_credential_file_is_invalid_and_says_revoked(page: Any, files: Files) -> None:
    result = _upload(page, files.revoked)
    assert "INVALID" in (result.locator(".verdict").get_attribute("class") or "").split()
    assert _codes(result)["失効"] == "revoked"
    _shot(page, "verify-revoked-ja.png")


def test_english_switch_relabels_the_page_and_the_result(page: Any, files: Files) -> None:
    _upload(page, files.genuine)
    page.click("#lang")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("h1").inner_text() == "Certificate check"
    assert page.get_by_label("Choose a PDF, an image or a credential file").count() == 1
    result = page.locator(".result").first
    assert result.locator(".verdict").inner_text().startswith("✓ VALID")
    assert _codes(result)["revocation"] == "ok"
    claims = result.locator(".claims").inner_text()
    assert "1980-04-01" in claims  # ISO dates in English (昭和55年4月1日 in Japanese)
    assert "昭和" not in claims
    assert page.locator("#status").inner_text() == "Verified."  # the status line follows the switch too
    assert result.locator(".claims dd").first.get_attribute("lang") == "ja"  # register text stays marked Japanese
    _shot(page, "verify-valid-en.png")
    page.click("#lang")
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert "有効" in result.locator(".verdict").inner_text()


def test_a_picture_without_a_qr_says_what_to_do(page: Any, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (640, 480), 255).save(blank)
    page.set_input_files("#file", str(blank))
    page.click("#verify")
    page.wait_for_selector("#status.error", timeout=30_000)
    assert "QRコードが見つかりませんでした" in page.locator("#status").inner_text()
    assert page.locator(".result").count() == 0


def _choose_by_keyboard(page: Any, path: Path) -> None:
    """Space on the focused file input opens the chooser. Headless Chromium now and then drops that first
    activation (about one run in seven here, whatever the page), so the key is pressed up to three times."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        try:
            with page.expect_file_chooser(timeout=5_000) as chooser:
                page.keyboard.press("Space")
        except PlaywrightTimeout:
            assert attempt < 2, "Space on the file input never opened the file chooser"
            continue
        chooser.value.set_files(str(path))
        return


def test_keyboard_only_choose_verify_and_read_the_verdict(page: Any, files: Files) -> None:
    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
    assert order == ["lang", "file", "verify", "camera"]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "file"
    _choose_by_keyboard(page, files.genuine)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector(".result .verdict", timeout=60_000)
    assert page.evaluate("document.activeElement.id") == "results"
    assert page.locator("#results").get_attribute("aria-live") == "polite"


def test_every_control_is_labelled_and_text_has_enough_contrast(page: Any, files: Files) -> None:
    _upload(page, files.forged)
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, button, video, select, textarea')]
        .filter(e => !((e.labels && e.labels.length) || e.getAttribute('aria-label') || e.textContent.trim()))
        .map(e => e.id)""")
    assert unlabelled == []
    ratios = page.evaluate(_CONTRAST_JS)
    low = [(name, round(ratio, 2)) for name, ratio in ratios if ratio < 4.5]
    assert low == [], low  # WCAG AA for normal text


_CONTRAST_JS = """() => {
    const lum = (c) => {
        const [r, g, b] = c.match(/\\d+/g).slice(0, 3).map(Number).map(v => v / 255)
            .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const bg = (e) => {
        for (; e; e = e.parentElement) {
            const c = getComputedStyle(e).backgroundColor;
            if (c !== 'rgba(0, 0, 0, 0)') return c;
        }
        return 'rgb(255, 255, 255)';
    };
    return [...document.querySelectorAll('h1, h2, h3, p, label, button, th, td, dt, dd, .verdict span, .warning')]
        .filter(e => e.textContent.trim())
        .map(e => [e.tagName + '.' + e.className, ratio(getComputedStyle(e).color, bg(e))]);
}"""


def test_camera_reads_the_printed_qr(page: Any) -> None:
    page.click("#camera")
    page.wait_for_selector('#camera[aria-pressed="true"], #status.error', timeout=10_000)
    assert page.locator("#camera").get_attribute("aria-pressed") == "true", page.locator("#status").inner_text()
    assert page.locator("#video").is_visible()
    page.wait_for_selector(".result .verdict", timeout=60_000)
    assert "VALID" in (page.locator(".result .verdict").get_attribute("class") or "").split(), \
        page.locator(".result").inner_text()[:2000]  # every check with its reason, when it is not VALID
    assert page.locator("#camera").get_attribute("aria-pressed") == "false"  # the camera stops on an answer


def test_public_check_endpoint_caps_sniffs_and_does_not_cache(files: Files) -> None:
    url = files.server.url + "/verify/check"
    big = httpx.post(url, content=b"\0" * (17 * 1024 * 1024), timeout=60)
    assert (big.status_code, big.json()["code"]) == (413, "input_too_large")
    blank = io.BytesIO()
    Image.new("L", (400, 300), 255).save(blank, "PNG")
    none = httpx.post(url, content=blank.getvalue(), headers={"Content-Type": "text/plain"}, timeout=60)
    assert (none.status_code, none.json()["code"]) == (422, "qr_not_found")  # sniffed as an image despite the type
    empty = httpx.post(url, content=b"", timeout=60)
    assert (empty.status_code, empty.json()["code"]) == (422, "field_missing")
    ok = httpx.post(url, content=files.revoked.read_bytes(), timeout=60)
    assert ok.headers["cache-control"] == "no-store"
    assert ok.json()["results"][0]["verdict"] == "INVALID"
    assert httpx.get(files.server.url + "/verify/assets/..%2Fapp.py").status_code == 404
    page = httpx.get(files.server.url + "/verify")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert "https://" not in page.text  # no CDN
