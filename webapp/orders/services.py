"""Order rules: saving validated orders (idempotent on source + shop order id), CSV import,
listing and status changes."""
from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from ..documents.totals import document_totals
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


# --- listing -------------------------------------------------------------------------------

@dataclass
class SeekPage:
    """One page of a newest-first list, walked with a cursor (the id of the row the page starts
    after, or ends before) instead of OFFSET: every page costs the same however deep it lies, and
    no count(*) over the whole list is needed (reading one row more says whether a page follows)."""

    items: list
    has_prev: bool
    has_next: bool

    @property
    def first_id(self) -> int | None:
        return self.items[0].id if self.items else None

    @property
    def last_id(self) -> int | None:
        return self.items[-1].id if self.items else None


def _beyond(keys: Sequence, cursor: Sequence, older: bool):
    """The rows after the cursor's (older: further down the newest-first list) or before it."""
    left = keys[0] if len(keys) == 1 else tuple_(*keys)
    right = cursor[0] if len(cursor) == 1 else tuple_(*cursor)
    return left < right if older else left > right


def seek_page(query: Select, keys: Sequence, cursor_keys: Callable[[int], Sequence], *, per_page: int,
              after: int | None = None, before: int | None = None, page: int | None = None,
              narrow: Select | None = None) -> SeekPage:
    """One page of `query` in descending order of `keys` (columns ending with the unique id).
    `cursor_keys(id)` gives the same keys for the cursor row as SQL expressions (a value or a
    scalar subquery). `after=id`: the page of the rows that follow that row; `before=id`: the page
    that precedes it; neither: the first page, or the `page`-th counted with OFFSET (links from
    before the cursors) on `narrow`, the ids alone under the same filters, so that the skipped
    rows are read from a narrow index and only the page's rows are loaded."""
    newest_first = [key.desc() for key in keys]
    if before:
        rows = db.session.scalars(query.where(_beyond(keys, cursor_keys(before), older=False))
                                  .order_by(*(key.asc() for key in keys)).limit(per_page + 1)).all()
        if len(rows) >= per_page:  # otherwise the top of the list is reached: show the first page
            return SeekPage(rows[:per_page][::-1], has_prev=len(rows) > per_page, has_next=True)
        after = page = None
    if after:
        statement, has_prev = query.where(_beyond(keys, cursor_keys(after), older=True)), True
    else:
        offset = (page - 1) * per_page if page and page > 1 else 0
        statement, has_prev = query, offset > 0
        if offset and narrow is not None:
            statement = query.where(keys[-1].in_(narrow.order_by(*newest_first).offset(offset).limit(per_page + 1)))
        elif offset:
            statement = query.offset(offset)
    rows = db.session.scalars(statement.order_by(*newest_first).limit(per_page + 1)).all()
    return SeekPage(rows[:per_page], has_prev=has_prev, has_next=len(rows) > per_page)


def orders_gross(order_ids: list[int]) -> dict[int, Decimal]:
    """Order id → its gross total, by the rule an issued document follows (document_totals), from
    the items' amounts alone, for a page of orders in one query."""
    lines: dict[int, list] = {order_id: [] for order_id in order_ids}
    if order_ids:
        for order_id, quantity, unit_gross, vat_rate in db.session.execute(
                select(OrderItem.order_id, OrderItem.quantity, OrderItem.unit_gross, OrderItem.vat_rate)
                .where(OrderItem.order_id.in_(order_ids))):
            lines[order_id].append((quantity, unit_gross, vat_rate))
    return {order_id: document_totals(items).gross for order_id, items in lines.items()}


def distinct_values(model, name: str, *, above=None, **equal) -> list:
    """The distinct values of `model.name` in the rows whose columns equal `equal` (and above
    `above`, when given), in order, read by a skip scan: a recursive query that jumps from one
    value to the next through an index on (the `equal` columns, `name`), as many index probes as
    values, instead of grouping every row (a shop's few order sources among 100,000 orders)."""
    statement = _skip_scan(model, name, tuple(sorted(equal)), above is not None)
    return db.session.scalars(statement, equal if above is None else {**equal, "above": above}).all()


@functools.cache
def _skip_scan(model, name: str, keys: tuple[str, ...], floored: bool) -> Select:
    # Built once per shape, values bound at execution: building and keying the recursive query
    # would cost more than running it.
    def smallest(table, floor):
        column = table.c[name]
        conditions = [table.c[key] == bindparam(key) for key in keys]
        if floor is not None:
            conditions.append(column > floor)
        return select(func.min(column).label("value")).where(*conditions)

    walk = smallest(model.__table__, bindparam("above") if floored else None).cte("walk", recursive=True)
    step = select(smallest(model.__table__.alias("later"), walk.c.value).scalar_subquery().label("value")) \
        .where(walk.c.value.is_not(None))
    walk = walk.union_all(step)
    return select(walk.c.value).where(walk.c.value.is_not(None)).order_by(walk.c.value)


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


def parse_paid_date(value) -> tuple[date | None, dict[str, str]]:
    """The payment date from a form or the API (RRRR-MM-DD); none given means today."""
    if value in (None, ""):
        return datetime.now(ZoneInfo("Europe/Warsaw")).date(), {}
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()), {}
        except ValueError:
            pass
    return None, {"paid_date": _("Data w formacie RRRR-MM-DD.")}


def mark_paid(order: Order, paid_date: date) -> bool:
    """Mark an unpaid order paid and fire "order paid" once: the change is a conditional UPDATE
    (only while unpaid), so a double click or two API calls make one transition. Returns whether
    this call made it; an order paid already is left as it is."""
    changed = db.session.execute(
        update(Order).where(Order.id == order.id, Order.merchant_id == order.merchant_id, Order.paid.is_(False))
        .values(paid=True, paid_date=paid_date).execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    db.session.refresh(order)
    if changed:
        from ..automation.services import fire

        fire(order, "order_paid", key="paid")  # the same key as an order created paid: once per order
    return changed


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
