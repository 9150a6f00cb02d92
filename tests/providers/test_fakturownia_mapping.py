"""What Fakturownia receives for each kind of hub document and each integration option."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from providers.base import VAT_RATES, Problem
from providers.fakturownia_mapping import build_invoice, default_payment_type, preflight

from .factories import company_buyer, consumer_buyer, make_correction, make_doc, make_line, settings

BUYER = {
    "buyer_company": True,
    "buyer_name": "Hurtownia Żółw Sp. z o.o.",
    "buyer_tax_no": "6272616681",
    "buyer_tax_no_kind": "",
    "buyer_street": "ul. Świętokrzyska 12",
    "buyer_post_code": "00-916",
    "buyer_city": "Łódź",
    "buyer_country": "PL",
    "buyer_email": "zakupy@zolw.example",
}
MUG = {
    "name": "Kubek ceramiczny",
    "quantity": "1",
    "quantity_unit": "szt",
    "price_gross": "10.00",
    "total_price_gross": "10.00",
    "tax": 23,
}
BASE = {
    "kind": "vat",
    "oid": "IB-12-3456",
    "oid_unique": "yes",
    "issue_date": "2025-05-14",
    "sell_date": "2025-05-13",
    "payment_type": "transfer",
    "payment_to": "2025-05-28",
    "payment_to_kind": "other_date",
    "currency": "PLN",
    **BUYER,
    "positions": [MUG],
}


def without(payload: dict, *keys: str) -> dict:
    return {k: v for k, v in payload.items() if k not in keys}


# ------------------------------------------------------------------ invoices and receipts


def test_plain_invoice_with_service_numbering():
    assert build_invoice(make_doc(), settings()) == BASE


def test_hub_numbering_sends_the_hub_number():
    payload = build_invoice(make_doc(), settings(numbering="hub"))
    assert payload == {**BASE, "number": "FV/7/05/2025"}


def test_linked_series_sends_the_department_and_do_not_pass_leaves_it_out():
    assert build_invoice(make_doc(), settings(series_id="12")) == {**BASE, "department_id": 12}
    assert "department_id" not in build_invoice(make_doc(), settings(series_id=None))


def test_receipt_is_kind_receipt():
    assert build_invoice(make_doc(kind="receipt"), settings()) == {**BASE, "kind": "receipt"}


@pytest.mark.parametrize(
    "shop_name, code",
    [
        ("Przelew", "transfer"),
        ("Przelew bankowy", "transfer"),
        ("Karta płatnicza", "card"),
        ("Karta", "card"),
        ("PayU", "payu"),
        ("Przelewy24", "transfer"),
        ("P24", "transfer"),
        ("BLIK", "card"),
        ("Pobranie", "cash_on_delivery"),
        ("Za pobraniem", "cash_on_delivery"),
        ("Gotówka", "cash"),
        ("PayPal", "paypal"),
        ("cash", "cash"),
    ],
)
def test_shop_payment_names_map_to_service_codes(shop_name, code):
    assert default_payment_type(shop_name) == code
    assert build_invoice(make_doc(payment_method=shop_name), settings())["payment_type"] == code


def test_unknown_payment_name_is_passed_as_free_text():
    payload = build_invoice(make_doc(payment_method="Raty Santander"), settings())
    assert payload["payment_type"] == "Raty Santander"


def test_payment_type_chosen_in_settings_wins_over_the_default_mapping():
    payload = build_invoice(make_doc(payment_method="Przelew"), settings(payment_type="compensation"))
    assert payload == {**BASE, "payment_type": "compensation"}


def test_hidden_payment_date_is_switched_off():
    payload = build_invoice(make_doc(hide_payment_date=True), settings())
    assert payload == {**without(BASE, "payment_to"), "payment_to_kind": "off"}


def test_paid_document_is_marked_paid_with_amount_and_date():
    doc = make_doc(paid=True, paid_date=date(2025, 5, 14), lines=[make_line(quantity="3", unit_gross="19.99")])
    payload = build_invoice(doc, settings())
    assert payload["status"] == "paid"
    assert payload["paid"] == "59.97"
    assert payload["paid_date"] == "2025-05-14"


def test_euro_invoice_carries_own_exchange_rate_to_pln():
    doc = make_doc(currency="EUR", exchange_rate=Decimal("4.2718"))
    payload = build_invoice(doc, settings())
    assert payload == {
        **BASE,
        "currency": "EUR",
        "exchange_currency": "PLN",
        "exchange_kind": "own",
        "exchange_currency_rate": "4.2718",
    }


def test_consumer_buyer_is_not_a_company_and_has_first_and_last_name():
    payload = build_invoice(make_doc(buyer=consumer_buyer()), settings())
    assert payload == {
        **without(BASE, *BUYER),
        "buyer_company": False,
        "buyer_name": "Małgorzata Wójcik",
        "buyer_first_name": "Małgorzata",
        "buyer_last_name": "Wójcik",
        "buyer_street": "ul. Źródlana 3/5",
        "buyer_post_code": "30-001",
        "buyer_city": "Kraków",
        "buyer_country": "PL",
        "buyer_email": "gosia@example.pl",
        "buyer_phone": "+48600100200",
    }


@pytest.mark.parametrize(
    "tax_id, country, sent_id, kind",
    [
        ("PL 627-261-66-81", "PL", "6272616681", ""),
        ("DE136695976", "DE", "DE136695976", "nip_ue"),
        ("EL094259216", "GR", "EL094259216", "nip_ue"),
        ("CHE-123.456.788", "CH", "CHE123456788", "other"),
    ],
)
def test_buyer_tax_id_kind(tax_id, country, sent_id, kind):
    doc = make_doc(buyer=company_buyer(tax_id=tax_id, country=country))
    payload = build_invoice(doc, settings())
    assert (payload["buyer_tax_no"], payload["buyer_tax_no_kind"], payload["buyer_country"]) == (
        sent_id, kind, country,
    )


def test_exempt_lines_send_zw_with_the_documents_exemption_basis():
    doc = make_doc(lines=[make_line(vat_rate="zw")], exemption_basis="art. 43 ust. 1 pkt 37 ustawy o VAT")
    payload = build_invoice(doc, settings(), options={"exempt_tax_kind": "art. 113 ust. 1"})
    assert payload == {
        **BASE,
        "exempt_tax_kind": "art. 43 ust. 1 pkt 37 ustawy o VAT",
        "positions": [{**MUG, "tax": "zw"}],
    }


def test_exempt_lines_fall_back_to_the_integrations_default_basis():
    doc = make_doc(lines=[make_line(vat_rate="zw")])
    payload = build_invoice(doc, settings(), options={"exempt_tax_kind": "art. 113 ust. 1"})
    assert payload["exempt_tax_kind"] == "art. 113 ust. 1"


def test_not_subject_lines_send_np_with_its_kind():
    doc = make_doc(lines=[make_line(vat_rate="np")])
    assert build_invoice(doc, settings()) == {
        **BASE, "np_tax_kind": "not_specified", "positions": [{**MUG, "tax": "np"}],
    }
    assert build_invoice(doc, settings(), options={"np_tax_kind": "export_service_eu"})["np_tax_kind"] == (
        "export_service_eu"
    )


def test_reverse_charge_lines_send_oo_and_the_reverse_charge_flag():
    doc = make_doc(lines=[make_line(vat_rate="oo")])
    assert build_invoice(doc, settings()) == {
        **BASE, "reverse_charge": True, "positions": [{**MUG, "tax": "oo"}],
    }


def test_vat_rate_keys_are_absent_for_ordinary_rates():
    doc = make_doc(lines=[make_line(vat_rate=r) for r in ("23", "8", "5", "0")])
    payload = build_invoice(doc, settings())
    assert [p["tax"] for p in payload["positions"]] == [23, 8, 5, 0]
    assert not {"exempt_tax_kind", "np_tax_kind", "reverse_charge"} & payload.keys()


def test_sku_on_sends_code_product_id_and_warehouse():
    doc = make_doc(lines=[make_line(sku="KUB-01"), make_line(name="Talerz", sku="TAL-02")])
    payload = build_invoice(doc, settings(send_sku=True), options={"warehouse_id": "3"},
                            product_ids={"KUB-01": 501})
    assert payload == {
        **BASE,
        "warehouse_id": 3,
        "positions": [
            {**MUG, "code": "KUB-01", "product_id": 501},
            {**MUG, "name": "Talerz", "code": "TAL-02"},  # unknown in the catalogue: code only
        ],
    }


def test_sku_off_sends_no_code_product_or_warehouse():
    doc = make_doc(lines=[make_line(sku="KUB-01")])
    payload = build_invoice(doc, settings(send_sku=False), options={"warehouse_id": "3"},
                            product_ids={"KUB-01": 501})
    assert payload == BASE


def test_notes_become_one_description_entry():
    payload = build_invoice(make_doc(notes="  Zamówienie nr 1234 – dziękujemy!  "), settings())
    assert payload == {**BASE, "descriptions": [{"kind": "Uwagi", "content": "Zamówienie nr 1234 – dziękujemy!"}]}


def test_gross_is_sent_so_the_services_rate_totals_equal_the_hubs():
    # Three 1.00 PLN lines at 23%: rounding each line's net gives 3 × 0.81 = 2.43, while the hub
    # (and a Polish invoice) derives the rate's net from the gross sum: 3.00 / 1.23 = 2.44.
    lines = [make_line(name=f"Naklejka {i}", unit_gross="1.00") for i in range(3)]
    doc = make_doc(lines=lines)
    assert sum(line.net for line in lines) == Decimal("2.43")
    assert doc.totals[0].net == Decimal("2.44") and doc.totals[0].gross == Decimal("3.00")

    positions = build_invoice(doc, settings())["positions"]

    # Only gross amounts go out: the service sums 3.00 gross at 23% and derives 2.44 net,
    # exactly the hub's per-rate total; sending per-line nets would have forced 2.43.
    assert all("price_net" not in p and "total_price_net" not in p for p in positions)
    assert sum(Decimal(p["total_price_gross"]) for p in positions) == doc.totals[0].gross
    assert [p["total_price_gross"] for p in positions] == ["1.00", "1.00", "1.00"]


def test_polish_text_passes_unchanged():
    doc = make_doc(lines=[make_line(name="Zażółć gęślą jaźń", unit="kpl")])
    position = build_invoice(doc, settings())["positions"][0]
    assert position["name"] == "Zażółć gęślą jaźń" and position["quantity_unit"] == "kpl"


def test_fractional_quantities_are_sent_without_trailing_zeros():
    line = make_line(name="Kabel", quantity="2.500", unit_gross="4.00", unit="m")
    position = build_invoice(make_doc(lines=[line]), settings())["positions"][0]
    assert (position["quantity"], position["total_price_gross"]) == ("2.5", "10.00")


# ------------------------------------------------------------------ corrections


def test_correction_sends_difference_with_before_and_after_states():
    before = make_line(quantity="2", unit_gross="10.00")
    after = make_line(quantity="1", unit_gross="10.00")
    doc = make_correction([(before, after)], reason="Zwrot 1 szt.")
    payload = build_invoice(doc, settings())
    assert payload == {
        **BASE,
        "kind": "correction",
        "oid": "IB-12-3457",
        "issue_date": "2025-05-20",
        "sell_date": "2025-05-20",
        "correction_reason": "Zwrot 1 szt.",
        "invoice_id": 987654,
        "from_invoice_id": 987654,
        "positions": [
            {
                "name": "Kubek ceramiczny",
                "quantity": "-1",
                "quantity_unit": "szt",
                "total_price_gross": "-10.00",
                "tax": 23,
                "kind": "correction",
                "correction_before_attributes": {
                    **MUG, "quantity": "2", "total_price_gross": "20.00", "kind": "correction_before",
                },
                "correction_after_attributes": {**MUG, "kind": "correction_after"},
            }
        ],
    }


def test_correction_of_added_and_removed_lines_uses_zero_on_the_missing_side():
    added = make_line(name="Gratis", unit_gross="5.00", vat_rate="8")
    removed = make_line(name="Talerz", quantity="2", unit_gross="7.50")
    doc = make_correction([(None, added), (removed, None)])
    positions = build_invoice(doc, settings())["positions"]

    assert positions[0]["quantity"] == "1" and positions[0]["total_price_gross"] == "5.00"
    assert positions[0]["correction_before_attributes"]["quantity"] == "0"
    assert positions[0]["correction_before_attributes"]["total_price_gross"] == "0.00"
    assert positions[0]["correction_after_attributes"]["total_price_gross"] == "5.00"
    assert positions[1]["quantity"] == "-2" and positions[1]["total_price_gross"] == "-15.00"
    assert positions[1]["correction_before_attributes"]["total_price_gross"] == "15.00"
    assert positions[1]["correction_after_attributes"]["quantity"] == "0"
    assert positions[1]["correction_after_attributes"]["total_price_gross"] == "0.00"


def test_paid_correction_does_not_claim_a_payment():
    doc = make_correction([(make_line(quantity="2"), make_line())], paid=True)
    assert "status" not in build_invoice(doc, settings())


# ------------------------------------------------------------------ preflight


def problem_fields(doc, export_settings=None, options=None):
    return [p.field for p in preflight(doc, export_settings or settings(), options)]


def test_clean_documents_have_no_problems():
    assert preflight(make_doc(), settings()) == []
    assert preflight(make_doc(buyer=consumer_buyer(), kind="receipt"), settings()) == []
    assert preflight(make_correction([(make_line(quantity="2"), make_line())]), settings()) == []


def test_company_without_name():
    doc = make_doc(buyer=company_buyer(name="", company_name=""))
    assert problem_fields(doc) == ["buyer.company_name"]


def test_consumer_without_any_name():
    doc = make_doc(buyer=consumer_buyer(name="", first_name="", last_name=""))
    assert problem_fields(doc) == ["buyer.name"]


def test_polish_company_needs_a_valid_nip():
    problems = preflight(make_doc(buyer=company_buyer(tax_id="1234567890")), settings())
    assert problems == [Problem("buyer.tax_id", problems[0].message)]
    assert "1234567890" in problems[0].message and "popraw" in problems[0].message
    assert problem_fields(make_doc(buyer=company_buyer(tax_id=""))) == ["buyer.tax_id"]


def test_eu_company_needs_a_valid_vat_id():
    assert problem_fields(make_doc(buyer=company_buyer(tax_id="DE123456789", country="DE"))) == ["buyer.tax_id"]
    assert problem_fields(make_doc(buyer=company_buyer(tax_id="DE136695976", country="DE"))) == []


def test_notes_longer_than_256_characters_are_refused():
    assert problem_fields(make_doc(notes="ż" * 256)) == []
    problems = preflight(make_doc(notes="ż" * 257), settings())
    assert [p.field for p in problems] == ["notes"] and "257" in problems[0].message


def test_emoji_in_notes_are_refused():
    assert problem_fields(make_doc(notes="Dziękujemy 🎉")) == ["notes"]


def test_every_line_needs_a_sku_when_sku_is_sent():
    doc = make_doc(lines=[make_line(sku="A-1"), make_line(name="Bez kodu"), make_line(sku="C-3")])
    assert problem_fields(doc, settings(send_sku=True)) == ["lines[1].sku"]
    assert problem_fields(doc, settings(send_sku=False)) == []


def test_vat_rate_outside_the_services_set():
    doc = make_doc(lines=[make_line(), make_line(vat_rate="7")])
    problems = preflight(doc, settings())
    assert [p.field for p in problems] == ["lines[1].vat_rate"]
    assert "23, 8, 5, 0, zw, np, oo" in problems[0].message
    assert problem_fields(make_doc(lines=[make_line(vat_rate="oo")]), settings()) == []
    narrower = preflight(make_doc(lines=[make_line(vat_rate="oo")]), settings(), None,
                         frozenset(VAT_RATES) - {"oo"})
    assert [p.field for p in narrower] == ["lines[0].vat_rate"]


def test_correction_needs_the_original_remote_id():
    doc = make_correction([(make_line(quantity="2"), make_line())], original_remote_id=None)
    problems = preflight(doc, settings())
    assert [p.field for p in problems] == ["correction.original_remote_id"]
    assert "FV/7/05/2025" in problems[0].message


def test_correction_lines_are_checked_on_both_sides():
    doc = make_correction([(make_line(quantity="2", sku="A"), make_line(sku=None))])
    assert problem_fields(doc, settings(send_sku=True)) == ["correction.lines[0].after.sku"]


def test_currency_must_be_three_letters_and_foreign_needs_a_rate():
    assert problem_fields(make_doc(currency="euro")) == ["currency"]
    assert problem_fields(make_doc(currency="EUR", exchange_rate=None)) == ["exchange_rate"]
    assert problem_fields(make_doc(currency="EUR", exchange_rate=Decimal("4.30"))) == []


def test_exempt_lines_need_a_basis_from_the_document_or_the_options():
    doc = make_doc(lines=[make_line(vat_rate="zw")])
    assert problem_fields(doc) == ["exemption_basis"]
    assert problem_fields(doc, options={"exempt_tax_kind": "art. 113 ust. 1"}) == []
    assert problem_fields(replace(doc, exemption_basis="art. 43 ust. 1 pkt 2")) == []


def test_line_names_longer_than_ksef_allows():
    assert problem_fields(make_doc(lines=[make_line(name="x" * 257)])) == ["lines[0].name"]


def test_hub_numbering_needs_a_number():
    assert problem_fields(make_doc(number=""), settings(numbering="hub")) == ["number"]


def test_problem_messages_are_polish_and_name_the_fix():
    doc = make_doc(buyer=company_buyer(tax_id=""), notes="x" * 300, currency="EUR")
    for problem in preflight(doc, settings()):
        assert any(word in problem.message for word in ("wpisz", "skróć", "podaj", "popraw", "uzupełnij"))


@settings_hypothesis(max_examples=60, deadline=None)
@given(st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=50),  # quantity
        st.integers(min_value=1, max_value=99_999),  # unit gross in grosze
        st.sampled_from(["23", "8", "5", "0", "zw"]),
    ),
    min_size=1, max_size=12,
))
def test_per_rate_gross_sent_always_equals_the_hubs_rate_totals(raw_lines):
    lines = [make_line(name=f"P{i}", quantity=str(q), unit_gross=str(Decimal(g) / 100), vat_rate=r)
             for i, (q, g, r) in enumerate(raw_lines)]
    doc = make_doc(lines=lines, exemption_basis="art. 43 ust. 1 pkt 37")
    positions = build_invoice(doc, settings())["positions"]
    sent: dict[str, Decimal] = {}
    for position in positions:
        sent[str(position["tax"])] = sent.get(str(position["tax"]), Decimal(0)) + Decimal(
            position["total_price_gross"])
    assert sent == {total.rate: total.gross for total in doc.totals}
