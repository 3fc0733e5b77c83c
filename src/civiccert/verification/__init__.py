"""The business's side: the Verifier, its result, and where trust comes from (trust files, the registry online)."""
