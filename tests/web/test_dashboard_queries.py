"""The pages a merchant watches while exports run (the module's export section, the order list,
the live export status) make the same number of SQL statements with 5 documents as with 60: a
query per row (an N+1) coming back fails here. And their lists page with a cursor, newest first."""
from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.conftest import gen_order
from webapp.documents.services import issue_document
from webapp.extensions import db
from webapp.models import Export

HX = {"HX-Request": "true"}
# Every state a row can show: final ones with the service's number, moving ones that poll, refusals.
STATES = ("fetched", "queued", "rejected", "retrying", "in_doubt", "sending", "sent")


@contextmanager
def counted():
    """The SQL statements run inside the block (a before_cursor_execute listener)."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def statements_of(browser, url: str, **kwargs) -> int:
    # Requests share the test's app context and session: start each from an empty session, as a
    # request in production does (nothing already loaded, e.g. the logged-in user).
    db.session.remove()
    with counted() as statements:
        response = browser.get(url, **kwargs)
    assert response.status_code == 200, url
    return len(statements)


@pytest.fixture
def integration(merchant_user):
    from webapp.exports.services import create_integration

    return create_integration(merchant_user.merchant_id, "fakturownia", "Fakturownia", {"api_token": "t"},
                              auto_export=False)


def add_documents(merchant_id: int, integration_id: int, count: int) -> list[int]:
    """`count` orders, each with an issued invoice and its export (states cycling through STATES,
    with what each state shows: the service's number, an error, a totals mismatch)."""
    ids = []
    for _ in range(count):
        document = issue_document(gen_order(merchant_id), "invoice", trigger="test")
        n = db.session.scalar(db.select(db.func.count(Export.id)))
        state = STATES[n % len(STATES)]
        export = Export(merchant_id=merchant_id, document_id=document.id, integration_id=integration_id, state=state,
                        trigger="test", attempts=n % 3, field_errors={},
                        remote_number=f"FV {n}/2026" if state in ("fetched", "sent") else None,
                        last_error="Usługa odrzuciła dokument." if state in ("rejected", "retrying") else "",
                        ksef_status="accepted" if n % 4 == 0 and state == "fetched" else None,
                        totals_mismatch={"gross": ["1.00", "1.01"]} if n % 5 == 0 else None)
        db.session.add(export)
        db.session.commit()
        ids.append(export.id)
    return ids


def page_statements(browser, integration_id: int, export_ids: list[int]) -> dict[str, int]:
    moving = next(i for i in export_ids if db.session.get(Export, i).state == "queued")
    return {
        "export section": statements_of(browser, f"/integrations/{integration_id}/exports", headers=HX),
        "export section, a state": statements_of(browser, f"/integrations/{integration_id}/exports?state=fetched",
                                                 headers=HX),
        "export section, a kind": statements_of(browser, f"/integrations/{integration_id}/exports?kind=invoice",
                                                headers=HX),
        "module page": statements_of(browser, f"/integrations/{integration_id}"),
        "order list": statements_of(browser, "/orders/"),
        "export status fragment": statements_of(browser, f"/integrations/exports/{moving}/status", headers=HX),
        "capability matrix": statements_of(browser, "/integrations/capabilities"),
        "integration list": statements_of(browser, "/integrations/"),
    }


def test_statements_per_page_do_not_grow_with_the_documents(browser, merchant_user, integration):
    merchant_id, integration_id = merchant_user.merchant_id, integration.id
    export_ids = add_documents(merchant_id, integration_id, 5)
    few = page_statements(browser, integration_id, export_ids)
    export_ids += add_documents(merchant_id, integration_id, 55)
    many = page_statements(browser, integration_id, export_ids)
    assert many == few
    # A deep page (after a cursor, or by number from an old link) costs what the first page does.
    first = few["export section"]
    assert statements_of(browser, f"/integrations/{integration_id}/exports?after={export_ids[40]}", headers=HX) == first
    assert statements_of(browser, f"/integrations/{integration_id}/exports?before={export_ids[20]}", headers=HX) == first
    assert statements_of(browser, f"/integrations/{integration_id}/exports?page=2", headers=HX) == first
    assert statements_of(browser, "/orders/?page=2") == few["order list"]


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-document="([^"]+)">', page)


def _link(page: str, rel: str) -> str | None:
    match = re.search(rf'<a href="#" hx-get="([^"]+)"[^>]*rel="{rel}"', page)
    return match.group(1).replace("&amp;", "&") if match else None


def test_export_section_pages_with_a_cursor_newest_first(browser, merchant_user, integration):
    add_documents(merchant_user.merchant_id, integration.id, 60)
    everything = db.session.execute(
        db.select(Export.id, Export.state).where(Export.integration_id == integration.id).order_by(Export.id.desc())
    ).all()
    numbers = {e.id: e.document.number for e in db.session.scalars(db.select(Export))}
    expected = [numbers[export_id] for export_id, _state in everything]

    url, seen, pages = f"/integrations/{integration.id}/exports", [], []
    while url:
        page = browser.get(url, headers=HX).get_data(as_text=True)
        pages.append(page)
        seen += _rows(page)
        url = _link(page, "next")
    assert seen == expected and [len(_rows(p)) for p in pages] == [25, 25, 10]
    assert _link(pages[0], "prev") is None
    # Back from the last page: the same rows as on the way down.
    back = browser.get(_link(pages[2], "prev"), headers=HX).get_data(as_text=True)
    assert _rows(back) == _rows(pages[1])
    back = browser.get(_link(back, "prev"), headers=HX).get_data(as_text=True)
    assert _rows(back) == _rows(pages[0]) and _link(back, "prev") is None
    # A page number (links from before the cursors) still opens that page; nonsense opens the first.
    assert _rows(browser.get(url_of_page(integration.id, 2), headers=HX).get_data(as_text=True)) == expected[25:50]
    odd = browser.get(f"/integrations/{integration.id}/exports?per_page=-3&page=-1&after=x", headers=HX)
    assert odd.status_code == 200 and _rows(odd.get_data(as_text=True)) == expected[:1]

    # The filter stays on while paging.
    fetched = [numbers[i] for i, state in everything if state == "fetched"]
    page = browser.get(f"/integrations/{integration.id}/exports?state=fetched&per_page=5", headers=HX)
    page = page.get_data(as_text=True)
    assert _rows(page) == fetched[:5]
    following = _link(page, "next")
    assert "state=fetched" in following
    assert _rows(browser.get(following + "&per_page=5", headers=HX).get_data(as_text=True)) == fetched[5:10]


def url_of_page(integration_id: int, number: int) -> str:
    return f"/integrations/{integration_id}/exports?page={number}"


def test_order_list_pages_with_a_cursor_newest_first(browser, merchant_user, integration):
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    # Some orders share a timestamp: the id breaks the tie, no order is skipped or shown twice.
    orders = [gen_order(merchant_user.merchant_id, n=f"N-{n}", ordered_at=start + timedelta(minutes=n // 3),
                        source="Sklep B" if n % 2 else "Sklep A") for n in range(120)]
    expected = [f"#{o.shop_order_id}<" for o in sorted(orders, key=lambda o: (o.ordered_at, o.id), reverse=True)]

    def numbers(page: str) -> list[str]:
        return [f"#{n}<" for n in re.findall(r'#(N-\d+)</a>', page)]

    def link(page: str, rel: str) -> str | None:
        match = re.search(rf'<a href="([^"]+)" rel="{rel}"', page)
        return match.group(1).replace("&amp;", "&") if match else None

    url, seen = "/orders/", []
    while url:
        page = browser.get(url).get_data(as_text=True)
        seen += numbers(page)
        url = link(page, "next")
    assert seen == expected
    assert numbers(browser.get("/orders/?per_page=-1&page=-2&before=x").get_data(as_text=True)) == expected[:1]
    second = browser.get("/orders/?page=2").get_data(as_text=True)
    assert numbers(second) == expected[50:100]
    assert numbers(browser.get(link(second, "prev")).get_data(as_text=True)) == expected[:50]
    # Filters and the shop list (read by a skip scan) stay.
    page = browser.get("/orders/?source=Sklep+B").get_data(as_text=True)
    assert "<option selected>Sklep B</option>" in page and "<option >Sklep A</option>" in page
    following = link(page, "next")
    assert "source=Sklep+B" in following
    rest = numbers(browser.get(following).get_data(as_text=True))
    assert numbers(page) + rest == [n for n in expected if int(n[3:-1]) % 2]
