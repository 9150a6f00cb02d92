"""Command-line tasks: `flask --app webapp <command>`."""
import click
from flask import Flask

from .extensions import db


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo merchant and its orders (once)."""
        from .demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

        _merchant, created = seed_demo()
        click.echo(("Demo merchant created. " if created else "") +
                   f"Log in at http://127.0.0.1:5000 as {DEMO_EMAIL} / {DEMO_PASSWORD}")

    @app.cli.command("rotate-credentials-key")
    def rotate_credentials_key_command():
        """Add a new credentials key and re-encrypt every integration's credentials with it."""
        from .crypto import add_new_key, rotate
        from .models import Integration

        add_new_key()
        rows = db.session.scalars(db.select(Integration)).all()
        for integration in rows:
            integration.credentials_encrypted = rotate(integration.credentials_encrypted)
        db.session.commit()
        click.echo(f"Re-encrypted the credentials of {len(rows)} integrations with the new key. "
                   "Older keys stay in the key file until you remove them.")

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
