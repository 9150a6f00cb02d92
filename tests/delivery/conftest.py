"""A real SMTP server in-process (aiosmtpd) and a mail configuration pointing at it."""
import pytest

from webapp.delivery.services import save_mail_settings


@pytest.fixture
def mail_configured(app, smtp_server, fakturownia):
    save_mail_settings(fakturownia.merchant_id, {"host": "127.0.0.1", "port": str(smtp_server.port),
                                                 "security": "none", "sender": "faktury@zazolc.pl"})
    return smtp_server
