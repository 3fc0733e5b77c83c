"""Convert the YAML inputs the tests need into JSON, so the tests run without pyyaml.

Run once after refreshing the vectors (needs `pip install pyyaml`):

    python tests/vectors/sd-jwt-python-testcases/generate_json.py

For each folder given (default: this one and ../sd-jwt-vc-examples) it writes `settings.json` from
`settings.yml` and, per case, `case.json` with the fields of `specification.yml` the tests read
(`holder_disclosed_claims`, `key_binding`, `serialization_format`, `extra_header_parameters`). The
`!sd` tags are irrelevant to those fields and are loaded as plain values.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

FIELDS = ("holder_disclosed_claims", "key_binding", "serialization_format", "extra_header_parameters")


class _Loader(yaml.SafeLoader):
    pass


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _plain)


def convert(folder: Path) -> None:
    settings = yaml.load((folder / "settings.yml").read_text(), Loader=_Loader)
    (folder / "settings.json").write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    for spec in sorted(folder.glob("*/specification.yml")):
        data = yaml.load(spec.read_text(), Loader=_Loader)
        case = {name: data[name] for name in FIELDS if name in data}
        (spec.parent / "case.json").write_text(json.dumps(case, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for arg in sys.argv[1:] or [str(here), str(here.parent / "sd-jwt-vc-examples")]:
        convert(Path(arg))
