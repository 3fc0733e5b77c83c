"""civiccert as a service: the HTTP API (``app``), its anchoring worker, auth, audit log and metrics.

Thin layers over :class:`civiccert.Issuer` and :class:`civiccert.Verifier`; nothing here reaches under them.
The worker (``worker``) needs no web framework, so ``civiccert anchor --watch`` uses it without the extra.
"""
