"""Japanese and English for people: gettext catalogues (src/civiccert/locale), chosen once per CLI call.

Only what people read is translated: CLI messages, the verify report, ``status``, the demo's steps. JSON output,
reason codes and the library's exception messages stay English and stable (scripts and logs read them).
The English text is the msgid, so English needs no catalogue. DEVELOPERS.md says how to update ``ja``.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from functools import cache
from importlib import resources

__all__ = ["LANGUAGES", "N_", "_", "catalogue_for", "detect_language", "format_age", "language", "ngettext",
           "reason_label",
           "set_language"]

LANGUAGES = ("ja", "en")
DOMAIN = "civiccert"
LANG_ENV = "CIVICCERT_LANG"

_state: dict[str, gettext.NullTranslations | str] = {"lang": "en", "catalogue": gettext.NullTranslations()}


def detect_language(environ: Mapping[str, str] | None = None) -> str:
    """CIVICCERT_LANG, else the POSIX message locale (LC_ALL, LC_MESSAGES, LANG: the first one set) when it is
    Japanese; English otherwise (C, POSIX, en_US and every language we have no catalogue for)."""
    env = os.environ if environ is None else environ
    chosen = env.get(LANG_ENV, "").strip().lower()
    if chosen in LANGUAGES:
        return chosen
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def set_language(lang: str) -> None:
    """Use ``lang`` (``ja`` or ``en``) for every later ``_()``; a missing catalogue means English, never a crash."""
    _state["lang"], _state["catalogue"] = lang, catalogue_for(lang)


@cache
def catalogue_for(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (``ja`` or ``en``), for callers that serve several languages at once (the web
    page answers each request in its own language, so it must not switch the process-wide one)."""
    if lang not in LANGUAGES:
        raise ValueError("language must be ja or en")
    if lang == "en":
        return gettext.NullTranslations()
    directory = str(resources.files("civiccert") / "locale")
    return gettext.translation(DOMAIN, directory, languages=[lang], fallback=True)


def language() -> str:
    return str(_state["lang"])


def _catalogue() -> gettext.NullTranslations:
    catalogue = _state["catalogue"]
    assert isinstance(catalogue, gettext.NullTranslations)
    return catalogue


def _(message: str) -> str:
    """``message`` (an English msgid) in the current language."""
    return _catalogue().gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    return _catalogue().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a msgid defined now and translated later (tables built at import time)."""
    return message


def format_age(seconds: int) -> str:
    """An age for people: days and hours (8日と3時間 / 8 days 3 hours); hours and minutes under a day."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        day_text = ngettext("{n} day", "{n} days", days).format(n=days)
        if not hours:
            return day_text
        return _("{days} {hours}").format(days=day_text,
                                          hours=ngettext("{n} hour", "{n} hours", hours).format(n=hours))
    if hours:
        hour_text = ngettext("{n} hour", "{n} hours", hours).format(n=hours)
        if not minutes:
            return hour_text
        return _("{hours} {minutes}").format(
            hours=hour_text, minutes=ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes))
    if minutes:
        return ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)
    return ngettext("{n} second", "{n} seconds", seconds).format(n=seconds)


# civiccert.issuance.issuer.RevocationReason, by the uint8 stored on chain (tests check both tables agree)
REVOCATION_REASONS: dict[int, tuple[str, str]] = {
    1: ("unspecified", N_("no reason given")),
    2: ("superseded", N_("superseded by a corrected copy")),
    3: ("issued_in_error", N_("issued in error")),
    4: ("key_compromise", N_("key compromise")),
    5: ("holder_request", N_("at the holder's request")),
}


def reason_label(code: int | str) -> str:
    """A revocation reason by name, from its on-chain number or its CLI name (``issued_in_error``)."""
    for number, (name, label) in REVOCATION_REASONS.items():
        if code in (number, name, str(number)):
            return _(label)
    return str(code)
