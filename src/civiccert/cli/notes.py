"""The verifier's check notes (``detail``) for people, translated when the report is rendered.

The verifier writes its notes in English (JSON output keeps them, see docs/verify-json.md); here each note is
either a fixed msgid or matched by a pattern whose numbers are shown for people: ages in days and hours,
revocation reasons by name. A note this module does not know is shown as written (tests/cli/test_i18n.py checks
that every note the verifier can write is known).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from civiccert.i18n import N_, _, format_age, ngettext, reason_label

__all__ = ["FIXED", "PATTERNS", "translate_note"]

FIXED = frozenset({
    N_("input is not UTF-8 text"),
    N_("input is not a civiccert credential"),
    N_("QR text is not a civiccert printed copy"),
    N_("the issuer's public key could not be read from the chain"),
    N_("no trusted public key for this printed copy's key id"),
    N_("a printed copy cannot prove who holds it"),
    N_("not a civiccert credential type"),
    N_("issuer and certifying municipality differ"),
    N_("the certifying municipality's name is not the official name for its code"),
    N_("iat and exp are required"),
    N_("input is not a well-formed SD-JWT"),
    N_("issuer key could not be looked up"),
    N_("signing key is not trusted"),
    N_("signed by a trusted key; unreadable"),
    N_("not reached"),
    N_("offline"),
    N_("not requested"),
    N_("receipt names another chain or registry than the trust snapshot"),
    N_("no anchoring receipt yet"),
    N_("receipt names another chain or registry, or is malformed"),
    N_("the node shows the receipt's anchoring transaction but denies the anchor"),
    N_("the proof's tree size differs from the anchored batch"),
    N_("the node denies the key of a credential anchored by its issuer"),
    N_("no trust snapshot and no registry"),
    N_("not in the given trust file"),
    N_("the key was revoked; only an anchor can prove this credential was issued before that"),
    N_("the registry could not be asked"),
    N_("registry"),
    N_("the QR does not belong to this page (certificate serial differs)"),
    N_("printed copy: the QR belongs to this PDF page (serial matches)"),
    N_("printed copy: compare the page with these claims (a photo has no text to check)"),
    N_("status claim is not {status_list: {idx, uri}}"),
    N_("the status list could not be obtained"),
    N_("the list is for another uri"),
    N_("the list was issued by another municipality"),
    N_("the list's key could not be read from the chain"),
    N_("the list is not signed by a key of the issuer"),
    N_("the list's signature does not verify"),
    N_("the list is not the latest anchored publication"),
    N_("the credential's index is beyond the issuer's list"),
    N_("X.509 chain"),
    N_("the certificate names another municipality"),
    N_("the certificate names another issuer URL"),
    N_("the certificate was revoked (key compromise); only an anchor can prove earlier issuance"),
    N_("the registry / trust file lists other keys"),
    N_("the verifier requires a certificate and the credential's key has none"),
    N_("the registry could not be asked for the certificate"),
    N_("the registry does not record this certificate for the key"),
    # civiccert.paper.pagecheck / sealphoto: does the page show what the QR signs?
    N_("the PDF cannot be read again"),
    N_("no such page"),
    N_("no text layer: compare the page with the claims shown"),
    N_("the PDF has another number of pages than the copy"),
    N_("the page text is not the signed claims' text"),
    N_("the page text is the signed claims' text"),
    N_("the attached seal image is not the signed one"),
    N_("something is drawn over the seal impression"),
    N_("the printed seal impression is not the signed one"),
    N_("the page text and the seal impression are the signed ones"),
    N_("the seal impression is not usable in this photo"),
    N_("the QR carries no seal fingerprint"),
    N_("the photo cannot be read again"),
    N_("the QR's size is unknown"),
})


def _age(seconds: str) -> str:
    return format_age(int(seconds))


def _origin(text: str) -> str:
    """``file`` / ``fetched`` (and ``, latest anchored``) inside a status-list note."""
    origin, _sep, anchored = text.partition(", ")
    shown = _(origin) if origin in _ORIGINS else origin
    return shown + (_(", latest anchored") if anchored == "latest anchored" else "")


_ORIGINS = frozenset({N_("file"), N_("cache"), N_("fetched")})  # civiccert.status.source

# (pattern over the English note, msgid for people, how each group is shown)
PATTERNS: tuple[tuple[re.Pattern[str], str, dict[str, Callable[[str], str]]], ...] = (
    (re.compile(r"trust snapshot, (?P<age>\d+) s old"), N_("trust snapshot, {age} old"), {"age": _age}),
    (re.compile(r"reason (?P<reason>\d+)"), N_("revoked: {reason}"), {"reason": reason_label}),
    (re.compile(r"snapshot generated at (?P<at>\S+)"), N_("snapshot generated at {at}"), {}),
    (re.compile(r"list expired (?P<age>\d+) s ago"), N_("the status list expired {age} ago"), {"age": _age}),
    (re.compile(r"status list \((?P<origin>[^)]*)\), (?P<age>\d+) s old"), N_("status list ({origin}), {age} old"),
     {"origin": _origin, "age": _age}),
    (re.compile(r"unknown status (?P<value>0x[0-9a-f]+)"), N_("unknown status {value}"), {}),
    (re.compile(r"block (?P<block>\d+)"), N_("block {block}"), {}),
    (re.compile(r"X\.509 chain to (?P<anchor>.+)"), N_("X.509 chain to {anchor}"), {}),
    (re.compile(r"seal impression matches \(distance (?P<d>\d+)/64\)"),
     N_("seal impression matches (distance {d}/64)"), {}),
    (re.compile(r"the printed seal impression is not the signed one \(distance (?P<d>\d+)/64\)"),
     N_("the printed seal impression is not the signed one (distance {d}/64)"), {}),
    (re.compile(r"seal impression could not be compared reliably \(distance (?P<d>\d+)/64\): compare by eye"),
     N_("seal impression could not be compared reliably (distance {d}/64): compare by eye"), {}),
)


_DISCLOSED = re.compile(r"(\d+) disclosed")


def translate_note(detail: str) -> str:
    """``detail`` in the current language; unknown notes (an algorithm name, a future note) as written."""
    if not detail:
        return detail
    if detail in FIXED:
        return _(detail)
    disclosed = _DISCLOSED.fullmatch(detail)
    if disclosed:
        n = int(disclosed.group(1))
        return ngettext("{n} disclosed", "{n} disclosed", n).format(n=n)
    for pattern, msgid, shown in PATTERNS:
        match = pattern.fullmatch(detail)
        if match:
            values = {name: shown.get(name, str)(value) for name, value in match.groupdict().items()}
            return _(msgid).format(**values)
    return detail
