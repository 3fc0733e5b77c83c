"""Municipal PKI: certificates for issuer keys (a 職責証明書 under LGPKI) and their validation.

``hierarchy`` makes a TEST root, intermediate and leaves for development; ``validate`` checks an ``x5c``
chain against the trust anchors a verifier chose; ``names`` writes and reads the municipality in a subject.
"""

from civiccert.pki.hierarchy import TestCA
from civiccert.pki.names import CertifiedMunicipality, default_issuer_url, leaf_subject, municipality_of
from civiccert.pki.validate import CertifiedKey, TrustAnchors, cert_kid, decode_x5c, encode_x5c, load_pem_chain

__all__ = [
    "CertifiedKey",
    "CertifiedMunicipality",
    "TestCA",
    "TrustAnchors",
    "cert_kid",
    "decode_x5c",
    "default_issuer_url",
    "encode_x5c",
    "leaf_subject",
    "load_pem_chain",
    "municipality_of",
]
