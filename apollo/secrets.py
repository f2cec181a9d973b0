import hashlib


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a bearer secret (a token, a key) is stored."""
    return hashlib.sha256(token.encode()).hexdigest()
