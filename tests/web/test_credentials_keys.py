"""`flask rotate-credentials-key`: every encrypted column is re-encrypted with the newest key, read
back from the raw columns; with CREDENTIALS_KEYS the command changes nothing and says how to rotate."""
import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text

from webapp.crypto import encrypt_credentials
from webapp.extensions import db
from webapp.models import Integration, MailSettings, Webhook

COLUMNS = (("integration", "credentials_encrypted"), ("mail_settings", "password_encrypted"),
           ("webhook", "secret_encrypted"))


@pytest.fixture
def secrets_stored(merchant_user):
    merchant_id = merchant_user.merchant_id
    db.session.add_all([
        Integration(merchant_id=merchant_id, provider="fakturownia", name="F",
                    credentials_encrypted=encrypt_credentials({"api_token": "tajny-token"})),
        MailSettings(merchant_id=merchant_id, host="smtp.example.com",
                     password_encrypted=encrypt_credentials({"password": "hasło-smtp"})),
        Webhook(merchant_id=merchant_id, url="https://example.com/hook",
                secret_encrypted=encrypt_credentials({"secret": "sekret-webhooka"})),
    ])
    db.session.commit()
    return {"integration": {"api_token": "tajny-token"}, "mail_settings": {"password": "hasło-smtp"},
            "webhook": {"secret": "sekret-webhooka"}}


def raw_columns() -> dict[str, bytes]:
    db.session.commit()
    return {table: bytes(db.session.execute(text(f"SELECT {column} FROM {table}")).scalar_one())
            for table, column in COLUMNS}


def readable_with(key: bytes, blob: bytes) -> bool:
    try:
        Fernet(key).decrypt(blob)
    except InvalidToken:
        return False
    return True


def test_rotation_with_the_key_file_reencrypts_all_three_columns(app, secrets_stored, monkeypatch):
    import json

    monkeypatch.delenv("CREDENTIALS_KEYS", raising=False)
    key_file = Path(app.instance_path) / "credentials.keys"
    before = raw_columns()
    old_keys = key_file.read_text().split()

    result = app.test_cli_runner().invoke(args=["rotate-credentials-key"])
    assert result.exit_code == 0, result.output
    assert "1 integration credentials, 1 mail passwords, 1 webhook secrets" in result.output

    keys = key_file.read_text().split()
    assert keys[1:] == old_keys and keys[0] not in old_keys  # the new key first, the old ones kept
    after = raw_columns()
    for table, blob in after.items():
        assert blob != before[table]
        assert readable_with(keys[0].encode(), blob)
        assert not any(readable_with(old.encode(), blob) for old in old_keys)
        assert json.loads(Fernet(keys[0].encode()).decrypt(blob)) == secrets_stored[table]


def test_with_credentials_keys_set_the_command_changes_nothing_and_says_how(app, secrets_stored, monkeypatch):
    env_key = Fernet.generate_key().decode()
    monkeypatch.setenv("CREDENTIALS_KEYS", env_key)
    # Rows written with the environment's key (the fixture used whatever key was current).
    for model, column, value in ((Integration, "credentials_encrypted", secrets_stored["integration"]),
                                 (MailSettings, "password_encrypted", secrets_stored["mail_settings"]),
                                 (Webhook, "secret_encrypted", secrets_stored["webhook"])):
        setattr(db.session.scalar(db.select(model)), column, encrypt_credentials(value))
    before = raw_columns()
    key_file = Path(app.instance_path) / "credentials.keys"
    file_before = key_file.read_text()

    result = app.test_cli_runner().invoke(args=["rotate-credentials-key"])
    assert result.exit_code == 1
    new_key = re.search(r"prepend this new key to CREDENTIALS_KEYS.*?\n\s+(\S+)\n", result.output, re.DOTALL).group(1)
    Fernet(new_key.encode())  # a usable key
    assert "rotate-credentials-key --reencrypt" in result.output
    assert raw_columns() == before and key_file.read_text() == file_before  # nothing changed

    # The operator prepends the printed key and re-encrypts with it.
    monkeypatch.setenv("CREDENTIALS_KEYS", f"{new_key},{env_key}")
    result = app.test_cli_runner().invoke(args=["rotate-credentials-key", "--reencrypt"])
    assert result.exit_code == 0, result.output
    after = raw_columns()
    for table, blob in after.items():
        assert readable_with(new_key.encode(), blob) and not readable_with(env_key.encode(), blob), table
    assert key_file.read_text() == file_before
    # The old key can go now.
    monkeypatch.setenv("CREDENTIALS_KEYS", new_key)
    from webapp.crypto import decrypt_credentials

    assert decrypt_credentials(db.session.scalar(db.select(Webhook)).secret_encrypted) == secrets_stored["webhook"]


def test_reencrypt_stops_before_writing_when_a_row_cannot_be_read(app, secrets_stored, monkeypatch):
    monkeypatch.setenv("CREDENTIALS_KEYS", Fernet.generate_key().decode())  # none of the rows' keys
    before = raw_columns()
    result = app.test_cli_runner().invoke(args=["rotate-credentials-key", "--reencrypt"])
    assert result.exit_code == 1 and "cannot be decrypted with any configured key" in result.output
    assert raw_columns() == before
