#!/usr/bin/env python3
"""Build src/civiccert/records/municipalities.json (全国地方公共団体コード with official names) from the PyPI
package japan-address, which ships the 総務省 list as japan_address/data/local_government.csv.

    pip download --no-deps japan-address==0.7.2 -d /tmp/ja
    .venv/bin/python scripts/make_municipalities.py /tmp/ja/japan_address-0.7.2.tar.gz

The package itself is not committed, only the JSON this writes (source, version and date recorded in it and in
src/civiccert/records/MUNICIPALITIES.md). Every code's check digit is verified; a bad row stops the build.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "civiccert" / "records" / "municipalities.json"
CSV_NAME = "japan_address/data/local_government.csv"
PACKAGE, VERSION = "japan-address", "0.7.2"
SOURCE_DATE = "2019-05-01"  # 令和元年5月1日更新, as the package's README states
KINDS = {"0": "municipality", "1": "designated_city", "2": "ward"}  # 政令指定都市 column


def read_csv(archive: Path) -> str:
    """The CSV from an sdist (.tar.gz) or wheel (.whl) of the package, or a bare CSV file."""
    if archive.suffix == ".csv":
        return archive.read_text(encoding="utf-8-sig")
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as whl:
            return whl.read(CSV_NAME).decode("utf-8-sig")
    with tarfile.open(archive) as sdist:
        member = next(m for m in sdist.getmembers() if m.name.endswith(CSV_NAME))
        handle = sdist.extractfile(member)
        assert handle is not None
        return handle.read().decode("utf-8-sig")


def build(text: str) -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "src"))
    from civiccert.records.codes import municipality_check_digit

    entries = []
    for row in csv.DictReader(io.StringIO(text)):
        code, name = row["コード"].strip(), row["市区町村"].strip()
        if len(code) != 6 or municipality_check_digit(code[:5]) != code[5] or not name:
            raise SystemExit(f"bad row for code {code!r}")
        entries.append({"code": code, "prefecture": row["都道府県"].strip(), "county": row["郡"].strip(),
                        "name": name, "kind": KINDS[row["政令指定都市"].strip()]})
    codes = [e["code"] for e in entries]
    if len(set(codes)) != len(codes):
        raise SystemExit("duplicate municipality codes")
    entries.sort(key=lambda e: e["code"])
    return {"format": "civiccert-municipalities/1", "source": "総務省 全国地方公共団体コード",
            "source_date": SOURCE_DATE, "package": f"{PACKAGE} {VERSION} (PyPI, MIT)", "entries": entries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path, help=f"{PACKAGE} {VERSION} sdist, wheel or its CSV")
    parser.add_argument("--check", action="store_true", help="exit 1 if the shipped JSON differs")
    args = parser.parse_args()
    data = build(read_csv(args.archive))
    lines = ",\n".join(json.dumps(e, ensure_ascii=False) for e in data.pop("entries"))  # type: ignore[attr-defined]
    head = json.dumps(data, ensure_ascii=False)[:-1]
    text = f'{head}, "entries": [\n{lines}\n]}}\n'
    if args.check:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == text else 1)
    OUT.write_text(text, encoding="utf-8")
    print(f"{text.count(chr(10)) - 2} municipalities -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
