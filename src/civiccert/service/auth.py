"""Client authentication: short-lived JWTs signed by each client's own key (RFC 7523 JWT bearer style).

A municipal back-office system is registered once with its public key and one role; for each request (or
every few minutes) it signs a JWT ``{iss: client_id, sub: client_id, aud: <service audience>, iat, exp}``
with its private key and sends it as ``Authorization: Bearer <jwt>``. Why this and not a token endpoint or
mTLS: no shared secret is ever stored by the service (only public keys), there is no token endpoint to run
or to make highly available across several servers, and the gateway in front may terminate TLS (mTLS would
bind the design to it). A token lives at most ``MAX_TOKEN_LIFETIME`` seconds, bounding a replay of a
leaked token; writes are idempotent per client anyway. Deny by default: every route names the roles that
may call it, and a client without one of them gets 403.

The client registry is a JSON file: ``{"clients": [{"client_id": "…", "role": "clerk", "jwk": {…}}]}``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

from civiccert.credentials.keys import public_key_from_jwk
from civiccert.errors import ConfigError, CredentialError, ReasonCode, ServiceError

__all__ = ["DEFAULT_AUDIENCE", "MAX_TOKEN_LIFETIME", "Client", "ClientRegistry", "Principal", "Role"]

DEFAULT_AUDIENCE = "civiccert"
MAX_TOKEN_LIFETIME = 300  # seconds between iat and exp
_SKEW = 30
_ALGORITHMS = ["ES256", "EdDSA"]
_CACHE_MAX = 4096  # verified tokens remembered (a client reuses its token for up to MAX_TOKEN_LIFETIME)


class Role(StrEnum):
    """What a client may do: clerks issue and print, supervisors revoke, auditors read the audit log,
    verifiers (a business's back office) only verify."""

    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    VERIFIER = "verifier"


@dataclass(frozen=True)
class Client:
    client_id: str
    role: Role
    key: Any  # the public key its tokens are verified with


@dataclass(frozen=True)
class Principal:
    """Who made a request (logged in the audit log by client id and role only)."""

    client_id: str
    role: Role


class ClientRegistry:
    """The registered clients; verifies bearer tokens."""

    def __init__(self, clients: Mapping[str, Client], *, audience: str = DEFAULT_AUDIENCE) -> None:
        self._clients = dict(clients)
        self.audience = audience
        self._verified: dict[str, tuple[Principal, float, float]] = {}  # token → (principal, iat, exp)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path, *, audience: str = DEFAULT_AUDIENCE) -> ClientRegistry:
        """Read the clients file (ConfigError CONFIG_INVALID when malformed)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            clients = {
                str(entry["client_id"]): Client(str(entry["client_id"]), Role(entry["role"]),
                                                public_key_from_jwk(entry["jwk"]))
                for entry in data["clients"]
            }  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError, CredentialError) as exc:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "clients file is unreadable or malformed",
                              field="clients") from exc  # fmt: skip
        return cls(clients, audience=audience)

    def authenticate(self, authorization: str | None, *, now: float | None = None) -> Principal:
        """The principal behind an ``Authorization`` header, or ServiceError (AUTH_MISSING/INVALID/EXPIRED)."""
        if not authorization:
            raise ServiceError(ReasonCode.AUTH_MISSING, "a bearer token is required", field="authorization")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ServiceError(ReasonCode.AUTH_INVALID, "the authorization is not a bearer token",
                               field="authorization")  # fmt: skip
        token = token.strip()
        current = time.time() if now is None else now
        with self._lock:
            hit = self._verified.get(token)
        if hit is not None:  # the same bytes verified before: only the clock checks remain
            who, issued, expires = hit
            if current > expires + _SKEW:
                raise ServiceError(ReasonCode.AUTH_EXPIRED, "the token has expired", field="authorization")
            if issued > current + _SKEW:
                raise ServiceError(ReasonCode.AUTH_EXPIRED, "the token is not valid yet", field="authorization")
            return who
        who, issued, expires = self._verify(token, current)
        with self._lock:
            if len(self._verified) >= _CACHE_MAX:
                self._verified = {t: v for t, v in self._verified.items() if v[2] + _SKEW >= current}
                if len(self._verified) >= _CACHE_MAX:
                    self._verified.clear()
            self._verified[token] = (who, issued, expires)
        return who

    def _verify(self, token: str, current: float) -> tuple[Principal, float, float]:
        """Check the token's signature and claims (the expensive part, done once per token)."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            client = self._clients.get(str(unverified.get("iss")))
            if client is None:
                raise ServiceError(ReasonCode.AUTH_INVALID, "unknown client", field="authorization")
            claims = jwt.decode(token, client.key, algorithms=_ALGORITHMS, audience=self.audience,
                                issuer=client.client_id, leeway=_SKEW,
                                options={"require": ["iss", "sub", "aud", "iat", "exp"]})  # fmt: skip
        except jwt.ExpiredSignatureError as exc:
            raise ServiceError(ReasonCode.AUTH_EXPIRED, "the token has expired", field="authorization") from exc
        except jwt.ImmatureSignatureError as exc:
            raise ServiceError(ReasonCode.AUTH_EXPIRED, "the token is not valid yet", field="authorization") from exc
        except jwt.PyJWTError as exc:
            raise ServiceError(ReasonCode.AUTH_INVALID, "the token does not verify", field="authorization") from exc
        if claims.get("sub") != client.client_id:
            raise ServiceError(ReasonCode.AUTH_INVALID, "the token's subject is not its issuer", field="authorization")
        issued, expires = claims["iat"], claims["exp"]
        if not isinstance(issued, int | float) or not isinstance(expires, int | float) \
                or expires - issued > MAX_TOKEN_LIFETIME or issued > current + _SKEW:
            raise ServiceError(ReasonCode.AUTH_EXPIRED, f"tokens may live at most {MAX_TOKEN_LIFETIME} seconds",
                               field="authorization")  # fmt: skip
        return Principal(client.client_id, client.role), float(issued), float(expires)


def require_role(principal: Principal, *allowed: Role) -> None:
    """Deny unless the principal has one of ``allowed`` (ServiceError ROLE_FORBIDDEN)."""
    if principal.role not in allowed:
        raise ServiceError(ReasonCode.ROLE_FORBIDDEN, "this client's role may not do this", field="role")
