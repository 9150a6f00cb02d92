"""Automatic actions: triggers and conditions, each kind of step, a rule job run twice, a run
that must not get stuck waiting for an export, and the rule form's checks."""
import pytest
from werkzeug.datastructures import MultiDict

from tests.conftest import gen_merchant, gen_order, run_jobs
from tests.delivery.test_chain import recommended_chain, status_id
from webapp.automation import services as automation
from webapp.automation.rules import RuleRefused, save_rule
from webapp.delivery.services import save_template
from webapp.documents.services import issue_document
from webapp.extensions import db
from webapp.models import (
    AutomationRule,
    AutomationRun,
    Document,
    EmailLog,
    Export,
    Integration,
    Order,
    Series,
)
from webapp.orders.services import change_status, create_order

STEP_FIELDS = ("step_type", "step_kind", "step_series", "step_stop", "step_status", "step_template", "step_attach")


def rule_form(name, trigger, steps, **fields):
    """The rule form as a browser posts it: one value of every step column per step row."""
    pairs = [("name", name), ("trigger", trigger), ("active", "on"), *fields.items()]
    for step in steps:
        pairs += [(column, str(step.get(column.removeprefix("step_"), ""))) for column in STEP_FIELDS]
    return MultiDict(pairs)


def status_rule(merchant_id, trigger, status_name, **conditions):
    return save_rule(merchant_id, None, rule_form(f"→ {status_name}", trigger, [
        {"type": "change_status", "status": status_id(merchant_id, status_name)}], **conditions))


def order_payload(shop_order_id, **overrides):
    payload = {
        "source": "Sklep Łąka", "shop_order_id": shop_order_id,
        "buyer": {"type": "person", "name": "Zofia Wójcik", "email": "zofia@example.com"},
        "payment": {"method": "PayU", "paid": False},
        "items": [{"name": "Świeca", "quantity": 1, "unit_gross": "45.99", "vat_rate": "23"}],
    }
    payload.update(overrides)
    return payload


def status_of(order_id):
    return db.session.get(Order, order_id).status.name


# --- triggers and conditions ----------------------------------------------------------------

def test_new_order_trigger_runs_for_every_new_order_and_only_once(app, merchant_user):
    status_rule(merchant_user.merchant_id, "new_order", "Wysłane")
    order, _created = create_order(merchant_user.merchant_id, order_payload("1"))
    order_id = order.id
    create_order(merchant_user.merchant_id, order_payload("1"))  # the shop sends it again
    run_jobs(app)
    assert status_of(order_id) == "Wysłane"
    assert db.session.scalar(db.select(db.func.count(AutomationRun.id))) == 1


@pytest.mark.parametrize(("conditions", "payload", "runs"), [
    ({"condition_source": "Sklep Łąka"}, {}, True),
    ({"condition_source": "Sklep Łąka"}, {"source": "Allegro"}, False),
    ({"condition_payment": "PayU"}, {}, True),
    ({"condition_payment": "PayU"}, {"payment": {"method": "Przelew", "paid": False}}, False),
    ({"condition_company": "yes"}, {}, False),
    ({"condition_company": "no"}, {}, True),
    ({"condition_company": "yes"}, {"buyer": {"type": "company", "name": "Jan", "company_name": "Łąka Sp. z o.o.",
                                              "tax_id": "5260250274", "email": "j@example.com"}}, True),
    ({"condition_company": "no"}, {"buyer": {"type": "company", "name": "Jan", "company_name": "Łąka Sp. z o.o.",
                                             "tax_id": "5260250274", "email": "j@example.com"}}, False),
])
def test_conditions_decide_whether_a_rule_runs(app, merchant_user, conditions, payload, runs):
    status_rule(merchant_user.merchant_id, "new_order", "Wysłane", **conditions)
    order, _created = create_order(merchant_user.merchant_id, order_payload("2", **payload))
    order_id = order.id
    run_jobs(app)
    assert status_of(order_id) == ("Wysłane" if runs else "Nowe")
    assert db.session.scalar(db.select(db.func.count(AutomationRun.id))) == (1 if runs else 0)


def test_status_trigger_fires_only_for_its_status_and_a_paid_rule_not_for_an_unpaid_order(app, merchant_user):
    merchant_id = merchant_user.merchant_id
    status_rule(merchant_id, "order_paid", "Wysłane")
    save_rule(merchant_id, None, rule_form("Opłacone → Faktura wystawiona", "status_changed", [
        {"type": "change_status", "status": status_id(merchant_id, "Faktura wystawiona")}],
        trigger_status_id=str(status_id(merchant_id, "Opłacone"))))
    order, _created = create_order(merchant_id, order_payload("3"))
    order_id = order.id
    run_jobs(app)
    assert status_of(order_id) == "Nowe"  # unpaid: the paid rule did not run
    change_status(db.session.get(Order, order_id), status_id(merchant_id, "Wysłane"))
    run_jobs(app)
    assert status_of(order_id) == "Wysłane"  # another status: the status rule did not run
    change_status(db.session.get(Order, order_id), status_id(merchant_id, "Opłacone"))
    run_jobs(app)
    assert status_of(order_id) == "Faktura wystawiona"


# --- steps ------------------------------------------------------------------------------------

def test_receipt_step_issues_a_receipt_in_the_chosen_series(app, fakturownia):
    merchant_id = fakturownia.merchant_id
    receipts = db.session.scalar(db.select(Series).where(Series.merchant_id == merchant_id, Series.kind == "receipt"))
    save_rule(merchant_id, None, rule_form("Paragon", "order_paid", [
        {"type": "issue_document", "kind": "receipt", "series": receipts.id, "stop": "yes"},
        {"type": "change_status", "status": status_id(merchant_id, "Wysłane")}]))
    order, _created = create_order(merchant_id, order_payload("4", payment={"method": "PayU", "paid": True}))
    order_id = order.id
    run_jobs(app)
    documents = db.session.scalars(db.select(Document).where(Document.order_id == order_id)).all()
    assert [(d.kind, d.series_id) for d in documents] == [("receipt", receipts.id)]
    assert documents[0].number.startswith("PAR/")
    assert db.session.scalar(db.select(Export.state)) == "fetched"
    assert status_of(order_id) == "Wysłane"
    run = db.session.scalar(db.select(AutomationRun))
    assert run.state == "done" and any("Wystawiono Paragon" in e["message"] for e in run.log)


def test_continue_after_failure_runs_the_following_steps(app, fakturownia):
    merchant_id = fakturownia.merchant_id
    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.series_links = {"1": "999999"}  # the sandbox refuses the export
    db.session.commit()
    save_rule(merchant_id, None, rule_form("Faktura, a potem status", "order_paid", [
        {"type": "issue_document", "kind": "invoice", "stop": "no"},
        {"type": "change_status", "status": status_id(merchant_id, "Wysłane")}]))
    order, _created = create_order(merchant_id, order_payload("5", payment={"method": "PayU", "paid": True}))
    order_id = order.id
    run_jobs(app)
    assert db.session.scalar(db.select(Export.state)) == "rejected"
    assert status_of(order_id) == "Wysłane"
    run = db.session.scalar(db.select(AutomationRun))
    assert run.state == "done"
    assert any("Eksport odrzucony" in e["message"] for e in run.log)
    assert not any("Zatrzymano" in e["message"] for e in run.log)


@pytest.mark.parametrize(("template_attaches", "choice", "attached"), [
    (False, "", False), (True, "", True), (False, "attach", True), (True, "link", False)])
def test_email_step_sends_the_invoice_as_link_or_attachment_as_chosen(app, fakturownia, mail_configured,
                                                                      template_attaches, choice, attached):
    merchant_id = fakturownia.merchant_id
    template = save_template(merchant_id, None, {"name": "Faktura", "subject": "Faktura [invoice_number]",
                                                 "body": "Dzień dobry, dziękujemy za zakupy.",
                                                 "attach_pdf": "on" if template_attaches else ""})
    save_rule(merchant_id, None, rule_form("Faktura i e-mail", "order_paid", [
        {"type": "issue_document", "kind": "invoice", "stop": "yes"},
        {"type": "send_email", "template": template.id, "attach": choice}]))
    create_order(merchant_id, order_payload("6", payment={"method": "PayU", "paid": True}))
    run_jobs(app)
    [message] = mail_configured.messages
    attachments = list(message.iter_attachments())
    body = message.get_body(preferencelist=("plain",)).get_content()
    export = db.session.scalar(db.select(Export))
    if attached:
        assert [a.get_content() for a in attachments] == [export.pdf]
    else:
        assert attachments == []
        assert "/i/" in body or not template_attaches  # "as a link" adds the link the template lacked
    if choice == "link":
        assert "http://127.0.0.1:5000/i/" in body
    log = db.session.scalar(db.select(EmailLog))
    assert log.attach_pdf is attached and log.run_id == db.session.scalar(db.select(AutomationRun.id))


# --- at least once: the same job twice ----------------------------------------------------------

def test_rule_job_run_twice_sends_one_email(app, fakturownia, mail_configured):
    merchant_id = fakturownia.merchant_id
    recommended_chain(merchant_id)
    order = gen_order(merchant_id, paid=False, buyer_email="zofia@example.com")
    order_id = order.id
    document = issue_document(order, "invoice", trigger="test")
    run_jobs(app)
    assert db.session.get(Document, document.id).export.state == "fetched"
    issued = status_id(merchant_id, "Faktura wystawiona")
    order = db.session.get(Order, order_id)
    order.status_id = issued
    db.session.commit()
    # RQ runs a job at least once: the e-mail rule's job for one status change, run twice.
    assert automation.run_rules(order_id, "status_changed", issued, 0, "click-1") == 1
    assert automation.run_rules(order_id, "status_changed", issued, 0, "click-1") == 0
    run_jobs(app)
    assert len(mail_configured.messages) == 1
    # …and the same event fired twice makes one job.
    automation.fire(db.session.get(Order, order_id), "status_changed", key="click-2")
    automation.fire(db.session.get(Order, order_id), "status_changed", key="click-2")
    run_jobs(app)
    assert len(mail_configured.messages) == 2
    assert db.session.scalar(db.select(db.func.count(AutomationRun.id))) == 2


def test_a_run_whose_worker_died_mid_run_is_finished_without_a_second_email(app, fakturownia, mail_configured):
    merchant_id = fakturownia.merchant_id
    template = save_template(merchant_id, None, {"name": "T", "subject": "Faktura [invoice_number]",
                                                 "body": "[invoice_link]"})
    rule = save_rule(merchant_id, None, rule_form("E-mail i status", "new_order", [
        {"type": "send_email", "template": template.id},
        {"type": "change_status", "status": status_id(merchant_id, "Wysłane")}]))
    order = gen_order(merchant_id, buyer_email="zofia@example.com")
    order_id = order.id
    issue_document(order, "invoice", trigger="test")
    run_jobs(app)
    # The first worker queued the e-mail, then died before the next step.
    run = AutomationRun(merchant_id=merchant_id, rule_id=rule.id, order_id=order_id, event="new_order",
                        event_key="new", state="running", log=[])
    db.session.add(run)
    db.session.commit()
    automation._email_step(run, db.session.get(Order, order_id), rule.steps[0])
    run_jobs(app)
    assert automation.run_rules(order_id, "new_order", None, 0, "new") == 1  # RQ runs the job again
    run_jobs(app)
    assert len(mail_configured.messages) == 1
    assert status_of(order_id) == "Wysłane"
    assert db.session.get(AutomationRun, run.id).state == "done"


# --- waiting for an export ----------------------------------------------------------------------

def test_export_finishing_while_the_run_commits_its_wait_does_not_strand_it(app, fakturownia, monkeypatch):
    """The export is final between the run's read of it and its commit of `waiting`: the
    export's follower finds no waiting run, so the run has to notice by itself."""
    merchant_id = fakturownia.merchant_id
    save_rule(merchant_id, None, rule_form("Faktura → status", "order_paid", [
        {"type": "issue_document", "kind": "invoice", "stop": "yes"},
        {"type": "change_status", "status": status_id(merchant_id, "Wysłane")}]))
    real_log = automation._log

    def export_finishes_elsewhere(run, message):
        if message.startswith("Czeka na przekazanie"):
            # Another worker stores the export's final state; the run's loaded copy still says
            # "queued" (SQLite allows one writer, so the change rides in the run's own commit).
            db.session.execute(db.update(Export).values(state="fetched", remote_number="FV 1/2026")
                               .execution_options(synchronize_session=False))
        real_log(run, message)

    monkeypatch.setattr(automation, "_log", export_finishes_elsewhere)
    order, _created = create_order(merchant_id, order_payload("7", payment={"method": "PayU", "paid": True}))
    order_id = order.id
    run_queue_once(app, "default")  # the rule job alone: the export job never runs
    run = db.session.scalar(db.select(AutomationRun))
    assert run.state == "done", run.log
    assert status_of(order_id) == "Wysłane"


def run_queue_once(app, name):
    from tests.conftest import run_queue_once as run

    run(app, name)
    db.session.rollback()
    db.session.expire_all()


def test_sweeper_resumes_a_run_whose_wake_up_was_lost(app, fakturownia, monkeypatch):
    from webapp.exports.jobs import sweep

    merchant_id = fakturownia.merchant_id
    save_rule(merchant_id, None, rule_form("Faktura → status", "order_paid", [
        {"type": "issue_document", "kind": "invoice", "stop": "yes"},
        {"type": "change_status", "status": status_id(merchant_id, "Wysłane")}]))
    monkeypatch.setattr(automation, "resume_for_document", lambda document_id: None)  # lost (crash, Redis)
    order, _created = create_order(merchant_id, order_payload("8", payment={"method": "PayU", "paid": True}))
    order_id = order.id
    run_jobs(app)
    assert db.session.scalar(db.select(Export.state)) == "fetched"
    assert db.session.scalar(db.select(AutomationRun.state)) == "waiting"
    assert sweep()["automation"] == 1
    assert sweep()["automation"] == 0  # queued already: not twice
    run_jobs(app)
    assert db.session.scalar(db.select(AutomationRun.state)) == "done"
    assert status_of(order_id) == "Wysłane"
    assert sweep()["automation"] == 0


def test_a_waiting_run_is_continued_once_however_many_resumes_race(app, fakturownia, monkeypatch):
    merchant_id = fakturownia.merchant_id
    save_rule(merchant_id, None, rule_form("Faktura → status", "order_paid", [
        {"type": "issue_document", "kind": "invoice", "stop": "yes"},
        {"type": "change_status", "status": status_id(merchant_id, "Wysłane")}]))
    monkeypatch.setattr(automation, "resume_for_document", lambda document_id: None)
    create_order(merchant_id, order_payload("9", payment={"method": "PayU", "paid": True}))
    run_jobs(app)
    run_id = db.session.scalar(db.select(AutomationRun.id))
    assert automation.continue_run(run_id) == "done"
    assert automation.continue_run(run_id) == "not waiting"
    log = db.session.get(AutomationRun, run_id).log
    assert sum("Status zmieniony" in e["message"] for e in log) == 1


# --- the rule form -------------------------------------------------------------------------------

def test_rule_form_refuses_a_series_of_another_merchant_or_kind(app, merchant_user):
    merchant_id = merchant_user.merchant_id
    other = gen_merchant("Obcy Sklep", email="obcy@example.com")
    foreign = db.session.scalar(db.select(Series.id).where(Series.merchant_id == other.merchant_id,
                                                           Series.kind == "invoice"))
    receipts = db.session.scalar(db.select(Series.id).where(Series.merchant_id == merchant_id,
                                                            Series.kind == "receipt"))
    invoices = db.session.scalar(db.select(Series.id).where(Series.merchant_id == merchant_id,
                                                            Series.kind == "invoice"))
    with pytest.raises(RuleRefused) as refused:
        save_rule(merchant_id, None, rule_form("R", "order_paid", [
            {"type": "issue_document", "kind": "invoice", "series": foreign}]))
    assert "steps[0].series" in refused.value.errors and "seria" in refused.value.errors["steps[0].series"]
    with pytest.raises(RuleRefused) as refused:
        save_rule(merchant_id, None, rule_form("R", "order_paid", [
            {"type": "change_status", "status": status_id(merchant_id, "Wysłane")},
            {"type": "issue_document", "kind": "invoice", "series": receipts}]))
    assert "Paragony" in refused.value.errors["steps[1].series"]
    assert db.session.scalar(db.select(db.func.count(AutomationRule.id))) == 0
    rule = save_rule(merchant_id, None, rule_form("R", "order_paid", [
        {"type": "issue_document", "kind": "invoice", "series": invoices}]))
    assert rule.steps[0]["series_id"] == invoices


def test_rule_page_shows_the_series_error_and_saves_the_attach_choice(app, browser, merchant_user):
    merchant_id = merchant_user.merchant_id
    receipts = db.session.scalar(db.select(Series.id).where(Series.merchant_id == merchant_id,
                                                            Series.kind == "receipt"))
    template = save_template(merchant_id, None, {"name": "T", "subject": "S", "body": "[invoice_link]"})
    form = rule_form("Reguła", "order_paid", [{"type": "issue_document", "kind": "invoice", "series": receipts}])
    response = browser.post("/automation/new", data=form)
    assert response.status_code == 200 and "nie jest serią dla tego rodzaju dokumentu" in response.get_data(as_text=True)
    page = browser.get("/automation/new").get_data(as_text=True)
    assert 'name="step_attach"' in page and "faktura w załączniku" in page
    response = browser.post("/automation/new", data=rule_form("Reguła", "order_paid", [
        {"type": "send_email", "template": template.id, "attach": "attach"}]))
    assert response.status_code == 302
    assert db.session.scalar(db.select(AutomationRule)).steps == [
        {"type": "send_email", "template_id": template.id, "attach": "attach"}]


# --- the demo -----------------------------------------------------------------------------------------

def test_demo_ships_the_recommended_two_rule_chain(app):
    from webapp.demo import seed_demo
    from webapp.models import EmailTemplate, MailSettings, OrderStatus

    merchant, created = seed_demo()
    assert created
    rules = db.session.scalars(db.select(AutomationRule).where(AutomationRule.merchant_id == merchant.id)
                               .order_by(AutomationRule.id)).all()
    statuses = {s.id: s.name for s in db.session.scalars(db.select(OrderStatus).where(OrderStatus.merchant_id == merchant.id))}
    assert [(r.trigger, r.active) for r in rules] == [("order_paid", True), ("status_changed", True)]
    paid_rule, email_rule = rules
    assert [s["type"] for s in paid_rule.steps] == ["issue_document", "change_status"]
    assert paid_rule.steps[0]["kind"] == "invoice" and paid_rule.steps[0]["stop_after_failure"] is True
    assert statuses[paid_rule.steps[1]["status_id"]] == "Faktura wystawiona"
    assert statuses[email_rule.trigger_status_id] == "Faktura wystawiona"
    assert [s["type"] for s in email_rule.steps] == ["send_email"]
    template = db.session.get(EmailTemplate, email_rule.steps[0]["template_id"])
    assert template.attach_pdf and template.merchant_id == merchant.id
    settings = db.session.get(MailSettings, merchant.id)
    assert (settings.host, settings.port, settings.security) == ("127.0.0.1", 1025, "none")
