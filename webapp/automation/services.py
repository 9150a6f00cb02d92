"""Automatic actions: rules that run on order events, step by step, on RQ.

A run that issues a document waits until its export reaches a final state; with "stop after
failure" a refused export ends the run there, so the order keeps its status and no e-mail goes
out. Every run is logged on the order: which rule, which steps ran, why it stopped."""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from rq import Queue

from ..documents.services import IssueRefused, issue_document
from ..extensions import db
from ..models import AutomationRule, AutomationRun, Document, EmailTemplate, Order, OrderStatus, utcnow
from ..redis_conn import get_redis

MAX_DEPTH = 5  # a status change made by a rule may trigger rules again; never in a loop
STEP_LABELS = {"issue_document": _l("wystaw dokument"), "change_status": _l("zmień status"),
               "send_email": _l("wyślij e-mail")}  # the rule pages' labels (the run log stays Polish)


def _queue() -> Queue:
    return Queue("default", connection=get_redis(current_app))


def fire(order: Order, event: str, depth: int = 0) -> None:
    """Call after the commit that made the event happen."""
    if depth > MAX_DEPTH:
        return
    if not db.session.scalar(db.select(AutomationRule.id).where(AutomationRule.merchant_id == order.merchant_id,
                                                                AutomationRule.active.is_(True)).limit(1)):
        return
    _queue().enqueue(run_rules, order.id, event, order.status_id, depth, result_ttl=0)


def fire_new_order(order: Order) -> None:
    fire(order, "new_order")
    if order.paid:
        fire(order, "order_paid")


def matches(rule: AutomationRule, order: Order, event: str, status_id: int | None) -> bool:
    if rule.trigger != event:
        return False
    if event == "status_changed" and rule.trigger_status_id != status_id:
        return False
    if rule.condition_source and rule.condition_source != order.source:
        return False
    if rule.condition_payment and rule.condition_payment != order.payment_method:
        return False
    if rule.condition_company == "yes" and not order.buyer_is_company:
        return False
    return not (rule.condition_company == "no" and order.buyer_is_company)


def run_rules(order_id: int, event: str, status_id: int | None, depth: int) -> int:
    order = db.session.get(Order, order_id)
    if order is None:
        return 0
    rules = db.session.scalars(db.select(AutomationRule).where(AutomationRule.merchant_id == order.merchant_id,
                                                               AutomationRule.active.is_(True))
                               .order_by(AutomationRule.id)).all()
    started = 0
    for rule in rules:
        if not matches(rule, order, event, status_id):
            continue
        run = AutomationRun(merchant_id=order.merchant_id, rule_id=rule.id, order_id=order.id,
                            event=event, depth=depth, state="running", log=[])
        db.session.add(run)
        db.session.commit()
        advance(run)
        started += 1
    return started


def _log(run: AutomationRun, message: str) -> None:
    run.log = [*run.log, {"at": utcnow().isoformat(timespec="seconds"), "message": message}]


def _finish(run: AutomationRun, state: str, message: str) -> None:
    _log(run, message)
    run.state, run.finished_at, run.waiting_document_id = state, utcnow(), None
    db.session.commit()


def advance(run: AutomationRun) -> None:
    """Run steps from run.step until the end, a wait for an export, or a stop."""
    order = db.session.get(Order, run.order_id)
    steps = run.rule.steps or []
    while run.step < len(steps):
        step = steps[run.step]
        outcome = _run_step(run, order, step)
        if outcome == "wait":
            return
        if outcome == "stop":
            return
        run.step += 1
        db.session.commit()
    _finish(run, "done", "Reguła wykonana do końca.")


def _run_step(run: AutomationRun, order: Order, step: dict) -> str:
    kind = step.get("type")
    if kind == "issue_document":
        return _issue_step(run, order, step)
    if kind == "change_status":
        status = db.session.scalar(db.select(OrderStatus).where(OrderStatus.merchant_id == order.merchant_id,
                                                                OrderStatus.id == step.get("status_id")))
        if status is None:
            _finish(run, "stopped", "Krok „zmień status”: status nie istnieje.")
            return "stop"
        order.status = status
        _log(run, f"Status zmieniony na „{status.name}”.")
        db.session.commit()
        fire(order, "status_changed", run.depth + 1)
        return "next"
    if kind == "send_email":
        from ..delivery.mail import MailRefused, queue_email

        template = db.session.scalar(db.select(EmailTemplate).where(EmailTemplate.merchant_id == order.merchant_id,
                                                                    EmailTemplate.id == step.get("template_id")))
        if template is None:
            _finish(run, "stopped", "Krok „wyślij e-mail”: szablon nie istnieje.")
            return "stop"
        try:
            log = queue_email(order, template, trigger=f"automat: {run.rule.name}")
        except MailRefused as refused:
            _finish(run, "stopped", f"E-mail nie wysłany: {refused.message}")
            return "stop"
        _log(run, f"E-mail „{log.subject}” do {log.recipient} w kolejce.")
        db.session.commit()
        return "next"
    _finish(run, "stopped", f"Nieznany krok: {kind}")
    return "stop"


def _issue_step(run: AutomationRun, order: Order, step: dict) -> str:
    document_kind = step.get("kind", "invoice")
    document = next((d for d in order.documents if d.kind == document_kind), None)
    if document is None:
        try:
            document = issue_document(order, document_kind, series_id=step.get("series_id"),
                                      trigger=f"automat: {run.rule.name}")
        except IssueRefused as refused:
            db.session.rollback()
            if step.get("stop_after_failure", True):
                _finish(run, "stopped", f"Nie wystawiono dokumentu: {refused.message} Zatrzymano regułę.")
                return "stop"
            _log(run, f"Nie wystawiono dokumentu: {refused.message}")
            return "next"
        _log(run, f"Wystawiono {document.title} {document.number}.")
    return _after_export(run, document, step)


def _after_export(run: AutomationRun, document: Document, step: dict) -> str:
    export = document.export
    if export is None or export.state == "fetched":
        if export is not None:
            _log(run, f"Dokument w usłudze: {export.remote_number}.")
        return "next"
    if export.state == "rejected":
        message = f"Eksport odrzucony przez usługę: {export.last_error}"
        if step.get("stop_after_failure", True):
            _finish(run, "stopped", message + " Zatrzymano regułę (zatrzymaj po błędzie).")
            return "stop"
        _log(run, message)
        return "next"
    run.state, run.waiting_document_id = "waiting", document.id
    _log(run, "Czeka na przekazanie dokumentu do usługi.")
    db.session.commit()
    return "wait"


def resume_for_document(document_id: int) -> None:
    """Called when a document's export reaches a final state."""
    runs = db.session.scalars(db.select(AutomationRun.id).where(AutomationRun.waiting_document_id == document_id,
                                                                AutomationRun.state == "waiting")).all()
    for run_id in runs:
        _queue().enqueue(continue_run, run_id, result_ttl=0)


def continue_run(run_id: int) -> str:
    run = db.session.get(AutomationRun, run_id)
    if run is None or run.state != "waiting":
        return "not waiting"
    document = db.session.get(Document, run.waiting_document_id)
    step = (run.rule.steps or [])[run.step]
    run.state = "running"
    outcome = _after_export(run, document, step)
    if outcome == "next":
        run.waiting_document_id = None
        run.step += 1
        db.session.commit()
        advance(run)
    return run.state
