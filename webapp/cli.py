"""Command-line tasks: `flask --app webapp <command>`."""
import click
from flask import Flask

from .extensions import db


def reencrypt_secrets() -> dict[str, int]:
    """Re-encrypt every encrypted column with the newest key, in one transaction: a row no key can
    read stops it before anything is written."""
    from cryptography.fernet import InvalidToken

    from .crypto import rotate
    from .models import Integration, MailSettings, Webhook

    columns = {"integrations": (Integration, "credentials_encrypted"), "mail": (MailSettings, "password_encrypted"),
               "webhooks": (Webhook, "secret_encrypted")}
    counts = {}
    try:
        for name, (model, column) in columns.items():
            rows = [row for row in db.session.scalars(db.select(model)) if getattr(row, column)]
            for row in rows:
                setattr(row, column, rotate(getattr(row, column)))
            counts[name] = len(rows)
    except InvalidToken as error:
        db.session.rollback()
        raise click.ClickException(f"A {name} row cannot be decrypted with any configured key: nothing was "
                                   "re-encrypted. Put back the key it was written with.") from error
    db.session.commit()
    return counts


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo merchant and its orders (once)."""
        from .demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

        _merchant, created = seed_demo()
        click.echo(("Demo merchant created. " if created else "") +
                   f"Log in at http://127.0.0.1:5000 as {DEMO_EMAIL} / {DEMO_PASSWORD}")

    @app.cli.command("rotate-credentials-key")
    @click.option("--reencrypt", is_flag=True,
                  help="Only re-encrypt every secret with the newest key already configured "
                       "(after prepending a new key to CREDENTIALS_KEYS).")
    def rotate_credentials_key_command(reencrypt: bool):
        """Add a new credentials key and re-encrypt every stored secret with it."""
        from .crypto import add_new_key, keys_from_environment, new_key

        if not reencrypt:
            if keys_from_environment():
                key = new_key()
                click.echo(
                    "CREDENTIALS_KEYS is set in the environment, so no key file is used and nothing was changed.\n"
                    "To rotate:\n"
                    f"  1. prepend this new key to CREDENTIALS_KEYS (comma-separated, newest first):\n     {key}\n"
                    "     and restart every web and worker process with it;\n"
                    "  2. run: flask --app webapp rotate-credentials-key --reencrypt\n"
                    "  3. then remove the old key from CREDENTIALS_KEYS.", err=True)
                raise SystemExit(1)
            add_new_key()
        counts = reencrypt_secrets()
        click.echo(f"Re-encrypted with the newest key: {counts['integrations']} integration credentials, "
                   f"{counts['mail']} mail passwords, {counts['webhooks']} webhook secrets." +
                   ("" if keys_from_environment() else " Older keys stay in the key file until you remove them."))

    @app.cli.command("create-merchant")
    @click.option("--name", required=True)
    @click.option("--email", required=True)
    @click.password_option()
    def create_merchant_command(name: str, email: str, password: str):
        """Create a merchant with one admin user."""
        from .models import Merchant, User
        from .settings.services import add_default_statuses

        merchant = Merchant(name=name, company_name=name)
        db.session.add(merchant)
        db.session.flush()
        user = User(merchant_id=merchant.id, email=email.strip().lower(), name=name)
        user.set_password(password)
        db.session.add(user)
        add_default_statuses(merchant.id)
        db.session.commit()
        click.echo(f"Merchant {merchant.id} created; log in as {user.email}.")
