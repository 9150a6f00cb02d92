"""Merchant settings: seller data, order statuses, numbering series, API tokens."""
import secrets

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func

from ..documents.numbering import check_format
from ..extensions import db
from ..models import DEFAULT_STATUSES, ApiToken, Document, Order, OrderStatus, Series, utcnow


class SettingRefused(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def add_default_statuses(merchant_id: int) -> None:
    for position, name in enumerate(DEFAULT_STATUSES):
        db.session.add(OrderStatus(merchant_id=merchant_id, name=name, position=position))


def add_status(merchant_id: int, name: str) -> OrderStatus:
    name = name.strip()
    if db.session.scalar(db.select(OrderStatus).where(OrderStatus.merchant_id == merchant_id, OrderStatus.name == name)):
        raise SettingRefused("name", _("Taki status już istnieje."))
    position = db.session.scalar(
        db.select(func.coalesce(func.max(OrderStatus.position), -1)).where(OrderStatus.merchant_id == merchant_id)
    ) + 1
    status = OrderStatus(merchant_id=merchant_id, name=name, position=position)
    db.session.add(status)
    db.session.commit()
    return status


def delete_status(status: OrderStatus) -> None:
    in_use = db.session.scalar(db.select(func.count(Order.id)).where(Order.status_id == status.id))
    if in_use:
        raise SettingRefused("status", ngettext(
            "Status „%(status)s” ma %(num)d zamówienie: najpierw zmień jego status.",
            "Status „%(status)s” ma %(num)d zamówień: najpierw zmień ich status.", in_use, status=status.name))
    db.session.delete(status)
    db.session.commit()


def save_series(merchant_id: int, series: Series | None, data: dict) -> Series:
    problem = check_format(data["format"], data["reset"])
    if problem:
        raise SettingRefused("format", problem)
    duplicate = db.session.scalar(
        db.select(Series).where(Series.merchant_id == merchant_id, Series.name == data["name"].strip())
    )
    if duplicate is not None and duplicate is not series:
        raise SettingRefused("name", _("Seria o tej nazwie już istnieje."))
    if series is None:
        series = Series(merchant_id=merchant_id)
        db.session.add(series)
    elif data["kind"] != series.kind and db.session.scalar(
        db.select(func.count(Document.id)).where(Document.series_id == series.id)
    ):
        raise SettingRefused("kind", _("W tej serii są już dokumenty: rodzaju nie można zmienić."))
    series.name = data["name"].strip()
    series.kind = data["kind"]
    series.format = data["format"].strip()
    series.reset = data["reset"]
    series.payment_days = data["payment_days"]
    series.hide_payment_date = bool(data["hide_payment_date"])
    if data["is_default"]:
        db.session.execute(
            db.update(Series).where(Series.merchant_id == merchant_id, Series.kind == data["kind"])
            .values(is_default=False)
        )
    series.is_default = bool(data["is_default"])
    db.session.commit()
    return series


def create_api_token(merchant_id: int, name: str) -> str:
    """Create a token and return it in clear, once: only its hash is stored."""
    token = "ib_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(merchant_id=merchant_id, name=name.strip(), token_hash=ApiToken.hash_token(token),
                            hint=token[:7]))
    db.session.commit()
    return token


def revoke_api_token(token: ApiToken) -> None:
    token.revoked_at = token.revoked_at or utcnow()
    db.session.commit()
