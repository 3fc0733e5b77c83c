"""The municipality's side: the Issuer and its home, the journal (SQLite or PostgreSQL), anchoring, publishing."""
