"""Automatic actions: rules that run on order events, step by step, on RQ.

A run that issues a document waits until its export reaches a final state; with "stop after
failure" a refused export ends the run there, so the order keeps its status and no e-mail goes
out. Every run is logged on the order: which rule, which steps ran, why it stopped.

RQ runs a job at least once. Each event gets a key (fixed for "new order" and "paid", derived
from the run and step for a status a rule set, random for a click) that names its job and is
unique per rule and order on the runs, so a job that runs twice starts each rule once; steps are
idempotent (a document of the kind is reused, one e-mail per run step)."""
from __future__ import annotations

import uuid
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ..documents.services import IssueRefused, issue_document
from ..extensions import db
from ..models import (
    FINAL_STATES,
    AutomationRule,
    AutomationRun,
    Document,
    EmailLog,
    EmailTemplate,
    Export,
    Order,
    OrderStatus,
    utcnow,
)
from ..queues import enqueue_once

MAX_DEPTH = 5  # a status change made by a rule may trigger rules again; never in a loop
STEP_LABELS = {"issue_document": _l("wystaw dokument"), "change_status": _l("zmień status"),
               "send_email": _l("wyślij e-mail")}  # the rule pages' labels (the run log stays Polish)
ATTACH_CHOICES = {"": _l("jak w szablonie"), "link": _l("link do faktury"), "attach": _l("faktura w załączniku")}


def _enqueue(func, *args, job_id: str) -> bool:
    return enqueue_once("default", func, *args, job_id=job_id)


def fire(order: Order, event: str, depth: int = 0, key: str | None = None) -> None:
    """Call after the commit that made the event happen. `key` names the event: the same key
    twice is one event (a job that ran again); None means a new one."""
    if depth > MAX_DEPTH:
        return
    if not db.session.scalar(db.select(AutomationRule.id).where(AutomationRule.merchant_id == order.merchant_id,
                                                                AutomationRule.active.is_(True)).limit(1)):
        return
    key = key or uuid.uuid4().hex
    _enqueue(run_rules, order.id, event, order.status_id, depth, key, job_id=f"rules-{order.id}-{event}-{key}")


def fire_new_order(order: Order) -> None:
    fire(order, "new_order", key="new")
    if order.paid:
        fire(order, "order_paid", key="paid")


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


def run_rules(order_id: int, event: str, status_id: int | None, depth: int, event_key: str = "") -> int:
    order = db.session.get(Order, order_id)
    if order is None:
        return 0
    event_key = event_key or uuid.uuid4().hex  # a job queued before events had keys
    rules = db.session.scalars(db.select(AutomationRule).where(AutomationRule.merchant_id == order.merchant_id,
                                                               AutomationRule.active.is_(True))
                               .order_by(AutomationRule.id)).all()
    started = 0
    for rule in rules:
        if not matches(rule, order, event, status_id):
            continue
        run = db.session.scalar(db.select(AutomationRun).where(AutomationRun.rule_id == rule.id,
                                                               AutomationRun.order_id == order.id,
                                                               AutomationRun.event_key == event_key))
        if run is None:
            run = AutomationRun(merchant_id=order.merchant_id, rule_id=rule.id, order_id=order.id, event=event,
                                event_key=event_key, depth=depth, state="running", log=[])
            db.session.add(run)
            try:
                db.session.commit()
            except IntegrityError:  # the same event's job running elsewhere started it
                db.session.rollback()
                continue
        elif run.state != "running":
            continue  # this job ran before: the run is waiting, done or stopped
        # else: a worker died in the middle of this run; its steps are idempotent, go on
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
        if outcome in ("wait", "stop"):
            return
        if outcome == "resume":  # the export became final while the run said it waits
            continue_run(run.id)
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
        # Named by the run and step: this step run again is the same event, not a second one.
        fire(order, "status_changed", run.depth + 1, key=f"run{run.id}-{run.step}")
        return "next"
    if kind == "send_email":
        return _email_step(run, order, step)
    _finish(run, "stopped", f"Nieznany krok: {kind}")
    return "stop"


def _email_step(run: AutomationRun, order: Order, step: dict) -> str:
    from ..delivery.mail import MailRefused, enqueue_send, queue_email

    sent_before = db.session.scalar(db.select(EmailLog).where(EmailLog.run_id == run.id,
                                                              EmailLog.run_step == run.step))
    if sent_before is not None:  # this step ran before (the job ran twice): one e-mail per step
        if sent_before.state == "queued":
            enqueue_send(sent_before)  # in case the first run died before queueing it
        return "next"
    template = db.session.scalar(db.select(EmailTemplate).where(EmailTemplate.merchant_id == order.merchant_id,
                                                                EmailTemplate.id == step.get("template_id")))
    if template is None:
        _finish(run, "stopped", "Krok „wyślij e-mail”: szablon nie istnieje.")
        return "stop"
    try:
        log = queue_email(order, template, trigger=f"automat: {run.rule.name}", attach=step.get("attach", ""),
                          run=run)
    except MailRefused as refused:
        _finish(run, "stopped", f"E-mail nie wysłany: {refused.message}")
        return "stop"
    except IntegrityError:  # the same step running elsewhere queued it a moment ago
        db.session.rollback()
        return "next"
    _log(run, f"E-mail „{log.subject}” do {log.recipient} w kolejce.")
    db.session.commit()
    return "next"


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
    # The export may have finished in another worker between the read above and this commit:
    # its resume_for_document() then found no waiting run. Look again now that the wait is seen.
    db.session.refresh(export)
    return "resume" if export.state in FINAL_STATES else "wait"


def _enqueue_continue(run: AutomationRun) -> bool:
    return _enqueue(continue_run, run.id, job_id=f"automation-continue-{run.id}-{len(run.log or [])}")


def resume_for_document(document_id: int) -> None:
    """Called when a document's export reaches a final state."""
    runs = db.session.scalars(db.select(AutomationRun).where(AutomationRun.waiting_document_id == document_id,
                                                             AutomationRun.state == "waiting")).all()
    for run in runs:
        _enqueue_continue(run)


def resume_waiting_runs() -> int:
    """For the sweeper: runs still waiting for an export that is final by now (a resume lost to
    a crash or to Redis) go on. Returns how many were queued."""
    settle = timedelta(seconds=current_app.config.get("SWEEPER_SETTLE_SECONDS", 5))
    runs = db.session.scalars(
        db.select(AutomationRun).join(Export, Export.document_id == AutomationRun.waiting_document_id)
        .where(AutomationRun.state == "waiting", Export.state.in_(FINAL_STATES),
               Export.updated_at < utcnow() - settle)).all()
    return sum(_enqueue_continue(run) for run in runs)


def continue_run(run_id: int) -> str:
    # Taken with one conditional UPDATE: of the resumes that race (the export's follower, the
    # run itself, the sweeper), one goes on.
    taken = db.session.execute(update(AutomationRun).where(AutomationRun.id == run_id,
                                                           AutomationRun.state == "waiting")
                               .values(state="running").execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    if not taken:
        return "not waiting"
    run = db.session.get(AutomationRun, run_id)
    db.session.refresh(run)
    document = db.session.get(Document, run.waiting_document_id) if run.waiting_document_id else None
    if document is None:
        _finish(run, "stopped", "Dokument, na który czekała reguła, nie istnieje.")
        return run.state
    step = (run.rule.steps or [])[run.step]
    outcome = _after_export(run, document, step)
    if outcome == "resume":
        return continue_run(run_id)
    if outcome == "next":
        run.waiting_document_id = None
        run.step += 1
        db.session.commit()
        advance(run)
    return run.state
