"""Paper-form figures: QR size per household and batch size, generation, rendering and scan timings.

Run: .venv/bin/python benchmarks/bench_paper.py  (prints Markdown tables used in docs/paper.md)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "paper"))

import pypdfium2 as pdfium
import qrcode
from paper_samples import EXP, IAT, ISS, VCT_JUMINHYO, VCT_SEAL, ThrowawaySigner, household, receipt, seal_certificate

from civiccert.errors import PaperError
from civiccert.paper import encode_paper, make_qr, printed_size_mm, qr_text, render_pdf, scan_image


def ms(fn: Callable[[], object], repeat: int = 10) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    signer = ThrowawaySigner()
    print("## QR size (ECC M, everything disclosed incl. 個人番号, receipt for a batch of 1,024)\n")
    print("| members | payload chars | QR version | printed size at 0.5 mm modules (with quiet zone) |")
    print("|---|---|---|---|")
    for n in range(1, 7):
        cose = encode_paper(
            VCT_JUMINHYO, household(n), signer, iss=ISS, iat=IAT, exp=EXP, include_individual_number=True
        )
        text = qr_text(cose, receipt(1024))
        v = make_qr(text).version
        print(f"| {n} | {len(text)} | {v} | {printed_size_mm(v):.1f} mm |")
    sc = seal_certificate()
    for image in (False, True):
        cose = encode_paper(VCT_SEAL, sc, signer, iss=ISS, iat=IAT, exp=EXP, include_seal_image=image)
        label = "seal cert. + 160 px PNG" if image else "seal cert. (hash only)"
        try:
            text = qr_text(cose, receipt(1024))
            v = make_qr(text).version
            print(f"| {label} | {len(text)} | {v} | {printed_size_mm(v):.1f} mm |")
        except PaperError as exc:
            print(f"| {label} | - | {exc.code.value} | - |")

    print("\n## Batch size vs QR version (receipt proof = 32 bytes per doubling)\n")
    print("| batch size | proof hashes | 1 person: chars / version | 6 members: chars / version |")
    print("|---|---|---|---|")
    coses = {
        n: encode_paper(VCT_JUMINHYO, household(n), signer, iss=ISS, iat=IAT, exp=EXP, include_individual_number=True)
        for n in (1, 6)
    }
    for size in (None, 1, 16, 64, 128, 256, 1024, 1 << 14, 1 << 16, 1 << 20, 1 << 24):
        cells = []
        for n in (1, 6):
            text = qr_text(coses[n], None if size is None else receipt(size))
            cells.append(f"{len(text)} / v{make_qr(text).version}")
        depth = "-" if size is None else str(max(0, (size - 1).bit_length()))
        print(f"| {'no receipt' if size is None else f'{size:,}'} | {depth} | {cells[0]} | {cells[1]} |")

    text6 = qr_text(coses[6], receipt(1024))
    print("\n## Timings (median, ms)\n")
    print(f"- QR generation, zxing-cpp writer, 6 members: {ms(lambda: make_qr(text6)):.1f} ms")

    def with_qrcode() -> None:
        q = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
        q.add_data(text6)
        q.make(fit=True)

    print(f"- QR generation, qrcode (pure Python), same text: {ms(with_qrcode, 3):.1f} ms")
    print(
        f"- encode_paper + qr_text (ES256), 6 members: "
        f"{ms(lambda: qr_text(encode_paper(VCT_JUMINHYO, household(6), signer, iss=ISS, iat=IAT, exp=EXP))):.2f} ms"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.pdf"
        t_render = ms(lambda: render_pdf(VCT_JUMINHYO, household(6), text6, out), 5)
        print(f"- render_pdf, 6 members (2 sheets): {t_render:.0f} ms")
        pdf = pdfium.PdfDocument(out)
        for dpi in (150, 200, 300):
            image = pdf[0].render(scale=dpi / 72, grayscale=True).to_pil()
            t = ms(lambda image=image: scan_image(image))
            print(f"- scan_image, A4 page at {dpi} dpi ({image.width}x{image.height}): {t:.1f} ms")
        pdf.close()
        print(
            f"- scan() of the 2-page PDF at 200 dpi (rasterise + decode): "
            f"{ms(lambda: __import__('civiccert.paper', fromlist=['scan']).scan(out), 5):.0f} ms"
        )

    print("\n## Robustness (tests/paper/test_paper_robustness.py cases)\n")
    import test_paper_robustness as rob

    for dpi in (150, 200, 300):
        image, box = rob.page(dpi)
        ok, times = 0, []
        for name, degrade in rob.DEGRADATIONS.items():
            d = degrade(image, dpi / 300, box)
            t0 = time.perf_counter()
            try:
                ok += [h.text for h in scan_image(d)] == [rob._document()[0]]
            except Exception:
                print(f"  - {dpi} dpi: {name} NOT decoded")
            times.append((time.perf_counter() - t0) * 1000)
        print(
            f"- {dpi} dpi: {ok}/{len(rob.DEGRADATIONS)} decoded, median decode {statistics.median(times):.0f} ms, "
            f"max {max(times):.0f} ms"
        )


if __name__ == "__main__":
    main()
