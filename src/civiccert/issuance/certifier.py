"""Who certifies a home's printed copies: the mayor's title and name and the official seal (職印) image.

Kept in the home config (``HomeConfig.mayor_title`` / ``mayor_name`` / ``official_seal_file``) so every copy
the home prints carries the same certifier. The seal PNG is copied into the home: the home stays whole when
the file it came from moves. The title must name the municipality and end in 長 (松戸市長): the page check
(``paper.pagecheck``) accepts the unsigned certifier line only in that form.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from civiccert.errors import ConfigError, ReasonCode
from civiccert.fileio import write_atomic
from civiccert.issuance.home import HomeConfig
from civiccert.paper._layout import Certifier

__all__ = ["OFFICIAL_SEAL_FILE", "certifier_of", "check_certifier", "with_certifier"]

OFFICIAL_SEAL_FILE = "official-seal.png"
MAX_NAME_CHARS = 16  # pagecheck's bound on the unsigned name
MAX_SEAL_BYTES = 2 * 1024 * 1024


def with_certifier(home: Path, config: HomeConfig, *, title: str | None = None, name: str | None = None,
                   seal_png: bytes | None = None) -> HomeConfig:
    """``config`` with the given certifier parts (others kept), the seal written into ``home``; saved."""
    title = config.mayor_title if title is None else title
    name = config.mayor_name if name is None else name
    check_certifier(config.municipality_name, title, name, seal_png)
    seal_file = config.official_seal_file
    if seal_png is not None:
        write_atomic(home / OFFICIAL_SEAL_FILE, seal_png)
        seal_file = OFFICIAL_SEAL_FILE
    updated = replace(config, mayor_title=title, mayor_name=name, official_seal_file=seal_file)
    updated.save(home)
    return updated


def check_certifier(municipality_name: str, title: str | None, name: str, seal_png: bytes | None) -> None:
    """Raise ConfigError unless the page check can accept this certifier line and the seal is a PNG."""
    if title is not None and not (title.endswith("長") and municipality_name in title and len(title) <= 24):
        raise ConfigError(ReasonCode.CONFIG_INVALID, "the mayor's title must name the municipality and end in 長",
                          field="mayor_title")
    if len("".join(name.split())) > MAX_NAME_CHARS:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "the mayor's name is too long", field="mayor_name")
    if seal_png is not None:
        _check_png(seal_png)


def certifier_of(home: Path, config: HomeConfig) -> Certifier:
    """The Certifier the renderer prints for this home."""
    seal = None
    if config.official_seal_file is not None:
        try:
            seal = (home / config.official_seal_file).read_bytes()
        except OSError as exc:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "the official seal image is missing from the home",
                              field="official_seal_file") from exc
    title = config.mayor_title or f"{config.municipality_name}長"
    return Certifier(title, config.mayor_name, seal)


def _check_png(data: bytes) -> None:
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_SEAL_BYTES or not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ConfigError(ReasonCode.SEAL_IMAGE_INVALID, "the official seal must be a PNG of at most 2 MiB",
                          field="official_seal")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ConfigError(ReasonCode.SEAL_IMAGE_INVALID, "the official seal is not a readable PNG",
                          field="official_seal") from exc
