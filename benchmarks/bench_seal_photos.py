"""Detection and false alarms of the photo seal check (civiccert.paper.sealphoto), on photos made here.

Seals: fictitious round impressions (ring + a two-character surname in IPAex明朝, red on transparent), several
sharing a first character (山田/山本/山口, 田中/田村, …) as a forger's look-alike would. Each seal is printed on its
own 印鑑登録証明書 page (pdf.render_pdf, QR signing that seal's pHash), rasterised at 200 dpi and degraded as in
tests/paper/test_paper_robustness.py (blur, JPEG q30/q60, rotation, perspective, noise, stain, lighting,
photo combo). Genuine: the photo against its own signed pHash. Swapped: the same photo against every other
seal's pHash, which is exactly what the verifier sees when a page with one impression carries another
seal's genuine QR (the QR geometry is the same version, so the crop is the same).

Prints counts per band (match / could not compare / mismatch) for genuine and swapped, and per degradation.
Run: PYTHONPATH=src .venv/bin/python benchmarks/bench_seal_photos.py [seals]
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "paper"))

import pypdfium2 as pdfium
from paper_samples import EXP, IAT, ISS, VCT_SEAL, ThrowawaySigner, seal_certificate
from PIL import Image, ImageDraw, ImageFont
from test_paper_robustness import DEGRADATIONS

from civiccert.errors import PaperError, ReasonCode
from civiccert.paper import encode_paper, qr_text, render_pdf, scan_image
from civiccert.paper._glyphs import font_path
from civiccert.paper.qr import min_version
from civiccert.paper.sealphoto import MATCH_MAX, MISMATCH_MIN, decide, phash, photo_hashes

NAMES = ["山田", "山本", "山口", "田中", "田村", "佐藤", "佐野", "鈴木", "高橋", "伊藤", "渡辺", "中村",
         "小林", "加藤", "吉田", "見本"]
DPI = 200


def seal_png(name: str, px: int = 240) -> bytes:
    image = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    red = (200, 30, 30, 255)
    draw.ellipse((4, 4, px - 5, px - 5), outline=red, width=px // 24)
    font = ImageFont.truetype(str(font_path("ipaex")), int(px * 0.36))
    for i, ch in enumerate(name):
        draw.text((px / 2, px * 0.31 + i * px * 0.38), ch, font=font, fill=red, anchor="mm")
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def printed_page(signer: ThrowawaySigner, png: bytes, tmp: Path) -> Image.Image:
    claims = seal_certificate()
    claims["seal"] = {"image_png": base64.b64encode(png).decode(), "image_sha256": hashlib.sha256(png).hexdigest(),
                      "size_mm": 15.0}
    text = qr_text(encode_paper(VCT_SEAL, claims, signer, iss=ISS, iat=IAT, exp=EXP))
    pdf = pdfium.PdfDocument(render_pdf(VCT_SEAL, claims, text, tmp / "seal.pdf"))
    try:
        return pdf[0].render(scale=DPI / 72, grayscale=True).to_pil().convert("L")
    finally:
        pdf.close()


def band(code: ReasonCode) -> str:
    return {ReasonCode.OK: "match", ReasonCode.SEAL_MISMATCH: "mismatch"}.get(code, "not compared")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else len(NAMES)
    names = NAMES[:count]
    signer = ThrowawaySigner()
    pngs = {n: seal_png(n) for n in names}
    signed = {n: phash(p) for n, p in pngs.items()}
    genuine: Counter[str] = Counter()
    swapped: Counter[str] = Counter()
    per_case: dict[str, Counter[str]] = {}
    distances: dict[str, list[int]] = {"genuine": [], "swapped": []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            clean = printed_page(signer, pngs[name], Path(tmp))
            [hit] = scan_image(clean)
            box = (min(p[0] for p in hit.position), min(p[1] for p in hit.position),
                   max(p[0] for p in hit.position), max(p[1] for p in hit.position))
            for case, degrade in DEGRADATIONS.items():
                photo = degrade(clean, DPI / 300, box)
                try:
                    [found] = scan_image(photo)
                except (PaperError, ValueError):
                    per_case.setdefault(case, Counter())["qr unreadable"] += 1
                    continue
                modules = 17 + 4 * (min_version(len(found.text)) or 40)
                hashes = photo_hashes(photo, found.position, modules, 15.0)
                result = decide(hashes, signed[name])
                genuine[band(result.code)] += 1
                per_case.setdefault(case, Counter())["genuine " + band(result.code)] += 1
                if result.distance is not None:
                    distances["genuine"].append(result.distance)
                for other in names:
                    if other == name:
                        continue
                    result = decide(hashes, signed[other])
                    swapped[band(result.code)] += 1
                    per_case[case]["swapped " + band(result.code)] += 1
                    if result.distance is not None:
                        distances["swapped"].append(result.distance)
    print(f"{len(names)} seals x {len(DEGRADATIONS)} photo conditions at {DPI} dpi; bands: match <= {MATCH_MAX}, "
          f"mismatch >= {MISMATCH_MIN}; {time.perf_counter() - started:.0f} s")
    for label, counter in (("genuine", genuine), ("swapped", swapped)):
        total = sum(counter.values())
        print(f"| {label} | {total} | " + " | ".join(f"{counter[b]} ({100 * counter[b] / max(total, 1):.1f} %)"
                                                      for b in ("match", "not compared", "mismatch")) + " |")
    for label, values in distances.items():
        values.sort()
        if values:
            print(f"{label} distance: min {values[0]}, median {values[len(values) // 2]}, max {values[-1]}")
    for case, counter in per_case.items():
        print(f"  {case}: " + ", ".join(f"{k} {v}" for k, v in sorted(counter.items())))


if __name__ == "__main__":
    main()
