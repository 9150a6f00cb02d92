"""Service credentials at rest: Fernet, with MultiFernet so keys can be rotated.

Keys come from CREDENTIALS_KEYS (comma-separated, newest first) or from instance/credentials.keys,
generated on first use. `flask rotate-credentials-key` adds a new key to that file and re-encrypts
every encrypted column; with CREDENTIALS_KEYS the operator prepends the new key there and runs it
with `--reencrypt`."""
from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


def _keys_file() -> Path:
    return Path(current_app.instance_path) / "credentials.keys"


def _configured_keys() -> str:
    return current_app.config.get("CREDENTIALS_KEYS") or os.environ.get("CREDENTIALS_KEYS") or ""


def keys_from_environment() -> bool:
    """True when CREDENTIALS_KEYS is set: the instance key file is then neither read nor written."""
    return bool(_configured_keys().strip())


class KeysFromEnvironment(RuntimeError):
    """A new key cannot be added by the app: the keys live in CREDENTIALS_KEYS, outside its reach."""


def _load_keys() -> list[bytes]:
    configured = _configured_keys()
    if configured.strip():
        return [k.strip().encode() for k in configured.split(",") if k.strip()]
    path = _keys_file()
    if not path.exists():
        path.write_text(Fernet.generate_key().decode() + "\n")
        path.chmod(0o600)
    return [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]


def new_key() -> str:
    return Fernet.generate_key().decode()


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in _load_keys()])


def encrypt_credentials(credentials: dict[str, str]) -> bytes:
    return _fernet().encrypt(json.dumps(credentials, ensure_ascii=False).encode())


def decrypt_credentials(blob: bytes) -> dict[str, str]:
    try:
        return json.loads(_fernet().decrypt(blob))
    except InvalidToken as error:
        raise RuntimeError("Credentials cannot be decrypted: the key in CREDENTIALS_KEYS / instance is missing") from error


def add_new_key() -> None:
    """Put a fresh key first in the instance key file (older keys stay to read old rows).
    Refused when the keys come from CREDENTIALS_KEYS: a key file nobody reads would rotate nothing."""
    if keys_from_environment():
        raise KeysFromEnvironment("CREDENTIALS_KEYS is set: add the new key to it, not to the key file")
    path = _keys_file()
    keys = _load_keys()
    path.write_text("\n".join([new_key()] + [k.decode() for k in keys]) + "\n")
    path.chmod(0o600)


def rotate(blob: bytes) -> bytes:
    """Re-encrypt with the newest key (the first one); raises InvalidToken when no key reads it."""
    return _fernet().rotate(blob)
