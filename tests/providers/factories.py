"""Builders for hub documents as the hub would compute them (Decimal, rounded per line)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from providers.base import (
    Correction,
    CorrectionLine,
    ExportSettings,
    HubDocument,
    Line,
    Party,
    RateTotal,
)

CENT = Decimal("0.01")
TOKEN = "s3cr3t-T0KEN-abc123"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def net_of(gross: Decimal, rate: str) -> Decimal:
    if not rate.isdigit():
        return gross  # zw / np / oo carry no Polish VAT
    return cents(gross * 100 / (100 + int(rate)))


def make_line(name="Kubek ceramiczny", quantity="1", unit_gross="10.00", vat_rate="23", sku=None,
              unit="szt") -> Line:
    qty, unit_price = Decimal(quantity), Decimal(unit_gross)
    gross = cents(qty * unit_price)
    net = net_of(gross, vat_rate)
    return Line(name, qty, unit_price, vat_rate, sku=sku, unit=unit, gross=gross, net=net, vat=gross - net)


def rate_totals(lines) -> tuple[RateTotal, ...]:
    """Per-rate totals the way the hub prints them: net derived from the gross sum."""
    totals = []
    for rate in ("23", "8", "5", "0", "zw", "np", "oo"):
        gross = sum((line.gross for line in lines if line.vat_rate == rate), Decimal(0))
        if any(line.vat_rate == rate for line in lines):
            net = net_of(gross, rate)
            totals.append(RateTotal(rate, net, gross - net, gross))
    return tuple(totals)


def company_buyer(**overrides) -> Party:
    values = {
        "name": "Hurtownia Żółw Sp. z o.o.",
        "company_name": "Hurtownia Żółw Sp. z o.o.",
        "tax_id": "6272616681",
        "is_company": True,
        "street": "ul. Świętokrzyska 12",
        "post_code": "00-916",
        "city": "Łódź",
        "country": "PL",
        "email": "zakupy@zolw.example",
        "phone": "",
    }
    values.update(overrides)
    return Party(**values)


def consumer_buyer(**overrides) -> Party:
    values = {
        "name": "Małgorzata Wójcik",
        "first_name": "Małgorzata",
        "last_name": "Wójcik",
        "is_company": False,
        "street": "ul. Źródlana 3/5",
        "post_code": "30-001",
        "city": "Kraków",
        "country": "PL",
        "email": "gosia@example.pl",
        "phone": "+48600100200",
    }
    values.update(overrides)
    return Party(**values)


SELLER = Party(
    name="Sklep Ąę",
    company_name="Sklep Ąę Sp. j.",
    tax_id="5252445767",
    is_company=True,
    street="ul. Polna 1",
    post_code="00-001",
    city="Warszawa",
)


def make_doc(lines=None, **overrides) -> HubDocument:
    lines = tuple(lines or (make_line(),))
    totals = rate_totals(lines)
    values = {
        "reference": "IB-12-3456",
        "kind": "invoice",
        "number": "FV/7/05/2025",
        "issue_date": date(2025, 5, 14),
        "sell_date": date(2025, 5, 13),
        "payment_due": date(2025, 5, 28),
        "hide_payment_date": False,
        "payment_method": "Przelew",
        "paid": False,
        "paid_date": None,
        "currency": "PLN",
        "exchange_rate": None,
        "seller": SELLER,
        "buyer": company_buyer(),
        "lines": lines,
        "totals": totals,
        "total_net": sum((t.net for t in totals), Decimal(0)),
        "total_vat": sum((t.vat for t in totals), Decimal(0)),
        "total_gross": sum((t.gross for t in totals), Decimal(0)),
    }
    values.update(overrides)
    return HubDocument(**values)


def make_correction(lines, original_remote_id="987654", reason="Zwrot 1 szt.", **overrides) -> HubDocument:
    correction = Correction(
        original_remote_id=original_remote_id,
        original_number="FV/7/05/2025",
        original_issue_date=date(2025, 5, 14),
        reason=reason,
        lines=tuple(CorrectionLine(before, after) for before, after in lines),
    )
    after_lines = [after for _, after in lines if after is not None]
    doc = make_doc(lines=after_lines or [make_line()], kind="correction", number="KOR/1/05/2025",
                   reference="IB-12-3457", issue_date=date(2025, 5, 20), sell_date=date(2025, 5, 20),
                   correction=correction)
    return replace(doc, **overrides)


def settings(**overrides) -> ExportSettings:
    return ExportSettings(**overrides)
