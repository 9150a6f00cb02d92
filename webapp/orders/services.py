"""Order rules: saving validated orders (idempotent on source + shop order id), CSV import,
listing and status changes."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Order, OrderItem, OrderStatus, utcnow
from .intake import validate_order


class OrderRejected(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def find_order(merchant_id: int, source: str, shop_order_id: str) -> Order | None:
    return db.session.scalar(
        db.select(Order).where(
            Order.merchant_id == merchant_id, Order.source == source, Order.shop_order_id == shop_order_id
        )
    )


def status_by_name(merchant_id: int, name: str) -> OrderStatus | None:
    return db.session.scalar(
        db.select(OrderStatus).where(OrderStatus.merchant_id == merchant_id, OrderStatus.name == name)
    )


def first_status(merchant_id: int) -> OrderStatus | None:
    return db.session.scalar(
        db.select(OrderStatus).where(OrderStatus.merchant_id == merchant_id).order_by(OrderStatus.position).limit(1)
    )


def create_order(merchant_id: int, payload: dict) -> tuple[Order, bool]:
    """Validate and save an order. Returns (order, created). The same (source, shop order id)
    twice returns the first order unchanged: shops resend orders, the hub must not duplicate."""
    clean, errors = validate_order(payload)
    if not errors and clean["status"] and status_by_name(merchant_id, clean["status"]) is None:
        errors = {"status": _("Nieznany status „%(status)s”: dodaj go w Ustawieniach albo pomiń pole.",
                               status=clean["status"])}
    if errors:
        raise OrderRejected(errors)
    existing = find_order(merchant_id, clean["source"], clean["shop_order_id"])
    if existing is not None:
        return existing, False
    order = _build_order(merchant_id, clean)
    db.session.add(order)
    try:
        db.session.commit()
    except IntegrityError:
        # Another request saved the same shop order a moment ago: answer with that one.
        db.session.rollback()
        existing = find_order(merchant_id, clean["source"], clean["shop_order_id"])
        if existing is None:
            raise
        return existing, False
    from ..automation.services import fire_new_order

    fire_new_order(order)
    return order, True


def _build_order(merchant_id: int, clean: dict) -> Order:
    buyer = clean["buyer"]
    status = status_by_name(merchant_id, clean["status"]) if clean["status"] else first_status(merchant_id)
    order = Order(
        merchant_id=merchant_id,
        source=clean["source"],
        shop_order_id=clean["shop_order_id"],
        status=status,
        ordered_at=clean["ordered_at"] or utcnow(),
        buyer_is_company=buyer["is_company"],
        buyer_name=buyer["name"],
        buyer_company_name=buyer["company_name"],
        buyer_tax_id=buyer["tax_id"],
        buyer_street=buyer["street"],
        buyer_post_code=buyer["post_code"],
        buyer_city=buyer["city"],
        buyer_country=buyer["country"],
        buyer_email=buyer["email"],
        buyer_phone=buyer["phone"],
        currency=clean["currency"],
        exchange_rate=clean["exchange_rate"],
        payment_method=clean["payment_method"],
        paid=clean["paid"],
        paid_date=clean["paid_date"],
        notes=clean["notes"],
    )
    for position, item in enumerate(clean["items"]):
        order.items.append(OrderItem(position=position, **item))
    return order


def order_to_json(order: Order) -> dict:
    return {
        "id": order.id,
        "source": order.source,
        "shop_order_id": order.shop_order_id,
        "status": order.status.name if order.status else None,
        "ordered_at": order.ordered_at.isoformat(),
        "buyer": {"type": "company" if order.buyer_is_company else "person", **{
            k: v for k, v in order.buyer_snapshot().items() if k != "is_company"}},
        "currency": order.currency,
        "exchange_rate": str(order.exchange_rate) if order.exchange_rate is not None else None,
        "payment": {"method": order.payment_method, "paid": order.paid,
                    "paid_date": order.paid_date.isoformat() if order.paid_date else None},
        "items": [
            {"name": i.name, "sku": i.sku, "ean": i.ean, "quantity": str(i.quantity), "unit": i.unit,
             "unit_gross": str(i.unit_gross), "vat_rate": i.vat_rate, "shipping": i.is_shipping}
            for i in order.items
        ],
        "documents": [{"id": d.id, "kind": d.kind, "number": d.number} for d in order.documents],
    }


def change_status(order: Order, status_id: int) -> OrderStatus:
    status = db.session.scalar(
        db.select(OrderStatus).where(OrderStatus.merchant_id == order.merchant_id, OrderStatus.id == status_id)
    )
    if status is None:
        raise OrderRejected({"status": _("Wybierz status z listy.")})
    order.status = status
    db.session.commit()
    from ..automation.services import fire

    fire(order, "status_changed")
    return status


# --- CSV import -----------------------------------------------------------------------------

CSV_COLUMNS = (
    "source", "shop_order_id", "ordered_at", "status", "buyer_type", "buyer_name", "company_name", "tax_id",
    "street", "post_code", "city", "country", "email", "phone", "currency", "exchange_rate",
    "payment_method", "paid", "paid_date", "item_name", "sku", "ean", "quantity", "unit_gross", "vat_rate",
    "shipping_gross", "shipping_vat_rate",
)
REQUIRED_COLUMNS = ("source", "shop_order_id", "item_name", "quantity", "unit_gross", "vat_rate")


@dataclass
class RowResult:
    row: int
    order_ref: str
    outcome: str  # imported | skipped | error
    reason: str = ""


@dataclass
class ImportReport:
    rows: list[RowResult] = field(default_factory=list)
    error: str = ""

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)


def _payload_from_rows(rows: list[dict]) -> dict:
    """One order spans consecutive rows with the same source + order id; order data comes from
    its first row, one item per row."""
    first = rows[0]
    payload = {
        "source": first.get("source"),
        "shop_order_id": first.get("shop_order_id"),
        "ordered_at": first.get("ordered_at") or None,
        "status": first.get("status") or "",
        "currency": first.get("currency") or "PLN",
        "exchange_rate": first.get("exchange_rate") or None,
        "buyer": {
            "type": (first.get("buyer_type") or "person").strip().lower(),
            "name": first.get("buyer_name"),
            "company_name": first.get("company_name"),
            "tax_id": first.get("tax_id"),
            "street": first.get("street"),
            "post_code": first.get("post_code"),
            "city": first.get("city"),
            "country": first.get("country") or "PL",
            "email": first.get("email"),
            "phone": first.get("phone"),
        },
        "payment": {"method": first.get("payment_method"), "paid": first.get("paid") or False,
                    "paid_date": first.get("paid_date") or None},
        "items": [
            {"name": r.get("item_name"), "sku": r.get("sku"), "ean": r.get("ean"), "quantity": r.get("quantity"),
             "unit_gross": r.get("unit_gross"), "vat_rate": r.get("vat_rate")}
            for r in rows
        ],
    }
    if first.get("shipping_gross"):
        payload["shipping"] = {"gross": first["shipping_gross"], "vat_rate": first.get("shipping_vat_rate") or "23"}
    return payload


def import_orders_csv(merchant_id: int, data: bytes) -> ImportReport:
    report = ImportReport()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1250")  # Excel in Poland saves CSV in Windows-1250
        except UnicodeDecodeError:
            report.error = _("Nie można odczytać pliku: zapisz go jako CSV w UTF-8.")
            return report
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    headers = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in headers]
    if missing:
        report.error = _("Brak kolumn: %(columns)s. Pobierz wzór pliku CSV i porównaj nagłówek.",
                         columns=", ".join(missing))
        return report

    groups: list[tuple[list[int], list[dict]]] = []
    for row_number, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in raw.items()}
        key = (row.get("source"), row.get("shop_order_id"))
        if groups and (groups[-1][1][0].get("source"), groups[-1][1][0].get("shop_order_id")) == key:
            groups[-1][0].append(row_number)
            groups[-1][1].append(row)
        else:
            groups.append(([row_number], [row]))

    for row_numbers, rows in groups:
        ref = f"{rows[0].get('source')} #{rows[0].get('shop_order_id')}"
        try:
            _order, created = create_order(merchant_id, _payload_from_rows(rows))
        except OrderRejected as rejected:
            reason = "; ".join(f"{_csv_field(k)}: {v}" for k, v in rejected.errors.items())
            report.rows.extend(RowResult(n, ref, "error", reason) for n in row_numbers)
            continue
        outcome = "imported" if created else "skipped"
        reason = "" if created else _("Zamówienie już istnieje (to samo źródło i numer).")
        report.rows.extend(RowResult(n, ref, outcome, reason) for n in row_numbers)
    return report


_CSV_NAMES = {"buyer.name": "buyer_name", "buyer.company_name": "company_name", "buyer.type": "buyer_type",
              "payment.method": "payment_method", "payment.paid": "paid", "payment.paid_date": "paid_date",
              "shipping.gross": "shipping_gross", "shipping.vat_rate": "shipping_vat_rate"}


def _csv_field(path: str) -> str:
    """Name the CSV column a validation error refers to."""
    if path in _CSV_NAMES:
        return _CSV_NAMES[path]
    if path.startswith("buyer."):
        return path.removeprefix("buyer.")
    if path.startswith("items["):
        index, _sep, name = path.partition("].")
        return _("wiersz pozycji %(number)d, %(column)s", number=int(index.removeprefix("items[")) + 1,
                 column="item_name" if name == "name" else name)
    return path
