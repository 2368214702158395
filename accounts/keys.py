"""The API key format: `t2i_<prefix>_<secret>`, and its digest. Pure functions, shared by services and selectors."""

import hashlib
import secrets

KEY_SCHEME = "t2i"


def api_key_generate() -> tuple[str, str]:
    """A new key and its public prefix (8 characters, shown on the account page to tell keys apart)."""
    prefix = secrets.token_hex(4)
    return f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}", f"{KEY_SCHEME}_{prefix}"


def api_key_digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()
