"""One module per language; both hold the same keys (a test checks)."""
