"""Token Status Lists (draft-ietf-oauth-status-list): revocation anyone can check, offline too, anchored."""

from civiccert.status.bits import LABELS, Status, StatusList
from civiccert.status.source import StatusListSource
from civiccert.status.token import StatusListToken, parse_token, sign_cwt, sign_jwt, verify_token

__all__ = ["LABELS", "Status", "StatusList", "StatusListSource", "StatusListToken", "parse_token", "sign_cwt",
           "sign_jwt", "verify_token"]
