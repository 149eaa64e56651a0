"""One-time codes (admin claims, invites): random, typed by people, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

# No 0/O or 1/I/L: the codes are read off a screen and typed on a phone.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code(length: int = 10) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def code_hash(code: str) -> str:
    """The stored form; codes are compared case-insensitively and without spaces or dashes."""
    normal = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(normal.encode()).hexdigest()
