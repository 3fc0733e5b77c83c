"""Issuer keys on a PKCS#11 token (an HSM, a smart card, SoftHSM2 for tests): the private key never leaves it.

A key is named by a PKCS#11 URI (RFC 7512) such as
``pkcs11:token=city;object=issuer?module-path=/usr/lib/softhsm/libsofthsm2.so``; the PIN is never part of
it and never logged. ``Pkcs11Signer`` is a ``SigningKey``: it reads the public key from the token, names
it by its RFC 7638 thumbprint (the same ``kid`` a key file would have) and signs with CKM_ECDSA over a
SHA-256 digest computed here (SoftHSM2 2.6 has no CKM_ECDSA_SHA256), which yields raw r||s as JOSE and
COSE want. Keys made by :func:`generate_key` are CKA_SENSITIVE and not CKA_EXTRACTABLE.

Only ES256 (P-256) is supported on tokens. PKCS#11 logins are per process: a second signer opened on a
token this process is already logged into shares that login (its PIN is not checked again); the login ends
when the process's last session on the token closes (``close``; python-pkcs11 leaks the session of a
failed login, so after a wrong PIN the process may stay logged in once a later PIN succeeds).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from cryptography.hazmat.primitives.asymmetric import ec

from civiccert.credentials.b64url import b64url_decode
from civiccert.credentials.keys import jwk_thumbprint, public_jwk_of
from civiccert.credentials.signatures import PublicKey, verify_signature
from civiccert.errors import ConfigError, KeyFileError, ReasonCode

if TYPE_CHECKING:
    import pkcs11

__all__ = ["PIN_ENV", "Pkcs11Signer", "Pkcs11Uri", "generate_key", "pin_from_env"]

PIN_ENV = "CIVICCERT_PKCS11_PIN"
_P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")  # DER OID 1.2.840.10045.3.1.7 (namedCurve prime256v1)
_PATH_ATTRS = frozenset({"token", "object", "id", "type"})
_QUERY_ATTRS = frozenset({"module-path"})
_SELF_TEST = b"civiccert pkcs11 self-test"


def pin_from_env(var: str = PIN_ENV) -> bytes | None:
    """The token PIN from the environment, or None when unset or empty."""
    value = os.environ.get(var)
    return value.encode("utf-8") if value else None


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI civiccert uses: which module, which token, which key (label / id)."""

    module: str
    token: str
    label: str
    key_id: bytes | None = None

    @classmethod
    def parse(cls, uri: str) -> Pkcs11Uri:
        """Parse ``pkcs11:token=..;object=..[;id=..][;type=private]?module-path=..``; PINs are refused."""
        if not isinstance(uri, str) or not uri.startswith("pkcs11:"):
            raise ConfigError(ReasonCode.CONFIG_INVALID, "not a pkcs11: URI", field="key_uri")
        path, _, query = uri[len("pkcs11:"):].partition("?")
        attrs: dict[str, str] = {}
        for part, allowed, sep in ((path, _PATH_ATTRS, ";"), (query, _QUERY_ATTRS, "&")):
            for item in filter(None, part.split(sep)):
                name, eq, value = item.partition("=")
                if name in ("pin-value", "pin-source"):
                    raise ConfigError(ReasonCode.CONFIG_INVALID, "a key URI must not carry the PIN "
                                      "(use --pin-file or CIVICCERT_PKCS11_PIN)", field="key_uri")
                if not eq or name not in allowed or name in attrs:
                    raise ConfigError(ReasonCode.CONFIG_INVALID, "unsupported or repeated key URI attribute",
                                      field="key_uri")
                attrs[name] = value
        if attrs.get("type", "private") != "private":
            raise ConfigError(ReasonCode.CONFIG_INVALID, "the key URI must name a private key", field="key_uri")
        module, token, label = (unquote(attrs.get(n, "")) for n in ("module-path", "token", "object"))
        if not (module and token and label):
            raise ConfigError(ReasonCode.CONFIG_INVALID, "the key URI needs token, object and module-path",
                              field="key_uri")
        key_id = unquote(attrs["id"], encoding="latin-1").encode("latin-1") if "id" in attrs else None
        return cls(module, token, label, key_id)

    def __str__(self) -> str:
        safe = "-._~:[]@!$'()*+,/"  # RFC 7512 pchar minus the separators ';', '?', '&', '='
        uri = f"pkcs11:token={quote(self.token, safe=safe)};object={quote(self.label, safe=safe)}"
        if self.key_id is not None:
            uri += ";id=" + "".join(f"%{b:02x}" for b in self.key_id)
        return uri + "?module-path=" + quote(self.module, safe=safe)


def _library(module: str) -> Any:
    try:
        import pkcs11
    except ImportError as exc:
        raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "python-pkcs11 is not installed "
                           "(pip install 'civiccert[hsm]')", field="key_uri") from exc
    if not os.path.isfile(module):
        raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "the PKCS#11 module does not exist", field="key_uri")
    try:
        return pkcs11.lib(module)
    except pkcs11.PKCS11Error as exc:
        raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "the PKCS#11 module cannot be loaded",
                           field="key_uri") from exc


def _session(uri: Pkcs11Uri, pin: bytes | None, *, rw: bool = False) -> pkcs11.Session:
    import pkcs11

    lib = _library(uri.module)
    try:
        token = lib.get_token(token_label=uri.token)
    except (pkcs11.NoSuchToken, pkcs11.MultipleTokensReturned) as exc:
        raise KeyFileError(ReasonCode.HSM_TOKEN_MISSING, "no single token with the configured label",
                           field="key_uri") from exc
    except pkcs11.PKCS11Error as exc:
        raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "the PKCS#11 module does not list its tokens",
                           field="key_uri") from exc
    if not pin:
        raise KeyFileError(ReasonCode.PASSPHRASE_MISSING, "the token needs a PIN: use --pin-file FILE or set "
                           f"{PIN_ENV}", field="pin")
    try:
        session: pkcs11.Session = token.open(rw=rw, user_pin=pin.decode("utf-8", "surrogateescape"))
    except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange, pkcs11.PinLocked,
            pkcs11.PinExpired) as exc:
        raise KeyFileError(ReasonCode.HSM_PIN_WRONG, "the token refuses the PIN") from exc
    except pkcs11.UserAlreadyLoggedIn:
        try:  # this process holds the login already (another open signer): share it
            session = token.open(rw=rw)
        except pkcs11.PKCS11Error as exc:
            raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "the token cannot open a session",
                               field="key_uri") from exc
    except pkcs11.PKCS11Error as exc:
        raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "the token cannot open a session", field="key_uri") from exc
    return session


def _find(session: pkcs11.Session, uri: Pkcs11Uri, object_class: Any) -> Any:
    import pkcs11

    try:
        return session.get_key(object_class=object_class, key_type=pkcs11.KeyType.EC, label=uri.label, id=uri.key_id)
    except pkcs11.NoSuchKey as exc:
        raise KeyFileError(ReasonCode.HSM_KEY_MISSING, "no EC key pair with the configured label on the token",
                           field="key_uri") from exc
    except pkcs11.MultipleObjectsReturned as exc:
        raise KeyFileError(ReasonCode.HSM_KEY_MISSING, "several keys carry the configured label: add id= to "
                           "the key URI", field="key_uri") from exc


def _public_key(public: Any) -> ec.EllipticCurvePublicKey:
    import pkcs11

    if bytes(public[pkcs11.Attribute.EC_PARAMS]) != _P256_PARAMS:
        raise KeyFileError(ReasonCode.ALGORITHM_UNSUPPORTED, "only P-256 keys are supported on a token",
                           field="key_uri")
    point = bytes(public[pkcs11.Attribute.EC_POINT])
    if len(point) == 67 and point[:2] == b"\x04\x41":  # DER OCTET STRING around the point (PKCS#11 v2.20+)
        point = point[2:]
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise KeyFileError(ReasonCode.HSM_KEY_MISSING, "the token's public key is not a P-256 point",
                           field="key_uri") from exc


class Pkcs11Signer:
    """An ES256 issuer key on a PKCS#11 token: signs there, exposes the public JWK and kid.

    One session per signer, guarded by a lock (a PKCS#11 session runs one operation at a time), so an
    ``Issuer`` may be shared by threads. ``close`` ends the session.
    """

    alg = "ES256"

    def __init__(self, uri: Pkcs11Uri, session: pkcs11.Session, private: Any,
                 public_key: ec.EllipticCurvePublicKey) -> None:
        self.uri = uri
        self._session: pkcs11.Session | None = session
        self._private = private
        self._lock = threading.Lock()
        self.public_key: PublicKey = public_key
        bare = public_jwk_of(public_key)
        self.kid = jwk_thumbprint(bare)
        self.thumbprint = b64url_decode(self.kid)
        self._public_jwk = {**bare, "kid": self.kid, "alg": self.alg, "use": "sig"}

    @classmethod
    def open(cls, uri: Pkcs11Uri | str, pin: bytes | None) -> Pkcs11Signer:
        """Log into the token and find the key pair; a self-test signature proves the halves belong together."""
        import pkcs11

        ref = Pkcs11Uri.parse(uri) if isinstance(uri, str) else uri
        session = _session(ref, pin)
        try:
            private = _find(session, ref, pkcs11.ObjectClass.PRIVATE_KEY)
            public = _find(session, ref, pkcs11.ObjectClass.PUBLIC_KEY)
            signer = cls(ref, session, private, _public_key(public))
            if not verify_signature("ES256", signer.public_key, _SELF_TEST, signer.sign(_SELF_TEST)):
                raise KeyFileError(ReasonCode.HSM_KEY_MISSING, "the token's public key does not match its "
                                   "private key of that label", field="key_uri")
        except pkcs11.PKCS11Error as exc:
            session.close()
            raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "the token failed while reading the key",
                               field="key_uri") from exc
        except BaseException:
            session.close()
            raise
        return signer

    def sign(self, data: bytes) -> bytes:
        """ES256 over ``data`` on the token: raw r||s (64 bytes)."""
        import pkcs11

        digest = hashlib.sha256(data).digest()
        with self._lock:
            if self._session is None:
                raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "the token session is closed", field="key_uri")
            try:
                signature = bytes(self._private.sign(digest, mechanism=pkcs11.Mechanism.ECDSA))
            except pkcs11.PKCS11Error as exc:
                raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "the token did not sign", field="key_uri") from exc
        if len(signature) != 64:  # CKM_ECDSA on P-256 returns r||s, 32 bytes each
            raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "the token returned a malformed signature",
                               field="key_uri")
        return signature

    def public_jwk(self) -> dict[str, str]:
        """Public JWK with ``kid``, ``alg`` and ``use``."""
        return dict(self._public_jwk)

    def close(self) -> None:
        """End the session (the last one closed logs this process out of the token)."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def __enter__(self) -> Pkcs11Signer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Pkcs11Signer(token={self.uri.token!r}, label={self.uri.label!r}, kid={self.kid!r})"


def generate_key(uri: Pkcs11Uri | str, pin: bytes | None) -> Pkcs11Signer:
    """Generate a P-256 key pair on the token (CKM_EC_KEY_PAIR_GEN) under the URI's label, then open it.

    The private half is CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_PRIVATE and sign-only. A label already
    in use is refused (HSM_KEY_EXISTS): a second key of that name would make the reference ambiguous.
    """
    import pkcs11

    ref = Pkcs11Uri.parse(uri) if isinstance(uri, str) else uri
    with _session(ref, pin, rw=True) as session:
        attr = pkcs11.Attribute
        key_id = ref.key_id if ref.key_id is not None else os.urandom(8)
        try:
            if any(True for _ in session.get_objects({attr.LABEL: ref.label})):
                raise KeyFileError(ReasonCode.HSM_KEY_EXISTS, "the token already holds an object with this label",
                                   field="key_uri")
            params = session.create_domain_parameters(pkcs11.KeyType.EC, {attr.EC_PARAMS: _P256_PARAMS}, local=True)
            params.generate_keypair(
                store=True, label=ref.label, id=key_id,
                public_template={attr.VERIFY: True, attr.TOKEN: True},
                private_template={attr.SIGN: True, attr.SENSITIVE: True, attr.EXTRACTABLE: False,
                                  attr.PRIVATE: True, attr.TOKEN: True, attr.DECRYPT: False,
                                  attr.DERIVE: False, attr.UNWRAP: False},
            )
        except pkcs11.PKCS11Error as exc:
            raise KeyFileError(ReasonCode.HSM_UNAVAILABLE, "the token could not generate a P-256 key",
                               field="key_uri") from exc
    return Pkcs11Signer.open(Pkcs11Uri(ref.module, ref.token, ref.label, key_id), pin)

