"""Merchant settings: seller data, order statuses, numbering series, API tokens."""
import io
import secrets
import warnings

from flask_babel import gettext as _
from flask_babel import ngettext
from PIL import Image, UnidentifiedImageError
from sqlalchemy import func

from ..documents.numbering import check_format
from ..extensions import db
from ..models import DEFAULT_STATUSES, ApiToken, AutomationRule, Document, Order, OrderStatus, Series, utcnow


class SettingRefused(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


LOGO_FORMATS = ("PNG", "JPEG")
LOGO_MAX_SOURCE_PIXELS = 25_000_000  # refused before decoding: a small file can hold a huge image
LOGO_BOX = (1200, 600)  # stored at most this size: the PDF prints it 18 mm high


def normalise_logo(data: bytes) -> bytes:
    """The uploaded logo re-encoded as a plain PNG that fits LOGO_BOX; SettingRefused("logo", …)
    when it is not a readable PNG or JPEG image."""
    unreadable = SettingRefused("logo", _("Nie można odczytać logo: wgraj obraz PNG lub JPEG."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=LOGO_FORMATS) as image:
                width, height = image.size
                if width * height > LOGO_MAX_SOURCE_PIXELS or not width or not height:
                    raise SettingRefused("logo", _("Logo ma za dużo pikseli: najwyżej %(max)d mln.",
                                                   max=LOGO_MAX_SOURCE_PIXELS // 1_000_000))
                image.load()
                has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
                image = image.convert("RGBA" if has_alpha else "RGB")
    except SettingRefused:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as error:
        raise unreadable from error
    image.thumbnail(LOGO_BOX)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


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


def rename_status(status: OrderStatus, name: str) -> OrderStatus:
    """Rename a status; its orders and automatic actions keep it (they refer to it by id)."""
    name = name.strip()
    if not name:
        raise SettingRefused("name", _("Podaj nazwę."))
    if db.session.scalar(db.select(OrderStatus.id).where(
            OrderStatus.merchant_id == status.merchant_id, OrderStatus.name == name, OrderStatus.id != status.id)):
        raise SettingRefused("name", _("Taki status już istnieje."))
    status.name = name
    db.session.commit()
    return status


def move_status(status: OrderStatus, direction: str) -> None:
    """Swap a status with its neighbour above ("up") or below ("down"); the first one is what new
    orders get when the shop names no status."""
    rows = db.session.scalars(db.select(OrderStatus).where(OrderStatus.merchant_id == status.merchant_id)
                              .order_by(OrderStatus.position, OrderStatus.id)).all()
    index = rows.index(status)
    other = index - 1 if direction == "up" else index + 1 if direction == "down" else None
    if other is None:
        raise SettingRefused("direction", _("Nieznany kierunek."))
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    for position, row in enumerate(rows):  # renumbered 0..n-1, so equal positions cannot linger
        row.position = position
    db.session.commit()


def _rules_using_status(status: OrderStatus) -> list[str]:
    rules = db.session.scalars(db.select(AutomationRule).where(AutomationRule.merchant_id == status.merchant_id)
                               .order_by(AutomationRule.name)).all()
    return [rule.name for rule in rules
            if rule.trigger_status_id == status.id
            or any(step.get("type") == "change_status" and str(step.get("status_id")) == str(status.id)
                   for step in rule.steps or [])]


def delete_status(status: OrderStatus) -> None:
    in_use = db.session.scalar(db.select(func.count(Order.id)).where(Order.status_id == status.id))
    if in_use:
        raise SettingRefused("status", ngettext(
            "Status „%(status)s” ma %(num)d zamówienie: najpierw zmień jego status.",
            "Status „%(status)s” ma %(num)d zamówień: najpierw zmień ich status.", in_use, status=status.name))
    rules = _rules_using_status(status)
    if rules:
        raise SettingRefused("status", _("Status „%(status)s” jest używany w akcjach automatycznych: %(rules)s. "
                                         "Najpierw zmień te akcje.", status=status.name, rules=", ".join(rules)))
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
    fmt = data["format"].strip()
    same_format = db.session.scalar(db.select(Series).where(
        Series.merchant_id == merchant_id, Series.kind == data["kind"], Series.format == fmt))
    if same_format is not None and same_format is not series:
        # Numbers are unique per merchant and kind: two series with one format would hand out the same numbers.
        raise SettingRefused("format", _("Seria „%(name)s” ma już ten format: numery by się powtarzały. "
                                         "Dodaj inny prefiks, np. %(example)s.",
                                         name=same_format.name, example="FH/{nr}/{YYYY}"))
    if series is None:
        series = Series(merchant_id=merchant_id)
        db.session.add(series)
    elif db.session.scalar(db.select(func.count(Document.id)).where(Document.series_id == series.id)):
        if data["kind"] != series.kind:
            raise SettingRefused("kind", _("W tej serii są już dokumenty: rodzaju nie można zmienić."))
        if fmt != series.format:
            raise SettingRefused("format", _("W tej serii są już dokumenty: zmiana formatu powtórzyłaby ich numery. "
                                             "Utwórz nową serię z nowym formatem i ustaw ją jako domyślną."))
        if data["reset"] != series.reset:
            raise SettingRefused("reset", _("W tej serii są już dokumenty: zmiana numeracji od nowa powtórzyłaby "
                                            "ich numery. Utwórz nową serię i ustaw ją jako domyślną."))
    series.name = data["name"].strip()
    series.kind = data["kind"]
    series.format = fmt
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
