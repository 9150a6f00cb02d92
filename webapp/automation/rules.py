"""Building rules from the rule form."""
from __future__ import annotations

from flask_babel import gettext as _

from ..extensions import db
from ..models import AUTOMATION_TRIGGERS, AutomationRule, EmailTemplate, OrderStatus, Series
from .services import ATTACH_CHOICES


class RuleRefused(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


MAX_STEPS = 10


def _owned_id(model, merchant_id: int, value) -> int | None:
    try:
        object_id = int(value)
    except (TypeError, ValueError):
        return None
    found = db.session.scalar(db.select(model.id).where(model.merchant_id == merchant_id, model.id == object_id))
    return found


def save_rule(merchant_id: int, rule: AutomationRule | None, form) -> AutomationRule:
    """`form` is a MultiDict: steps come as parallel lists step_type[], step_kind[], step_series[],
    step_stop[], step_status[], step_template[], step_attach[] (one entry per step, in order)."""
    errors = {}
    name = (form.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = _("Podaj nazwę reguły (do 100 znaków).")
    trigger = form.get("trigger")
    if trigger not in AUTOMATION_TRIGGERS:
        errors["trigger"] = _("Wybierz zdarzenie.")
    trigger_status_id = None
    if trigger == "status_changed":
        trigger_status_id = _owned_id(OrderStatus, merchant_id, form.get("trigger_status_id"))
        if trigger_status_id is None:
            errors["trigger_status_id"] = _("Wybierz status.")
    company = form.get("condition_company", "")
    if company not in ("", "yes", "no"):
        errors["condition_company"] = _("Wybierz z listy.")
    steps = []
    columns = {name: form.getlist(name) + [""] * MAX_STEPS
               for name in ("step_kind", "step_series", "step_stop", "step_status", "step_template", "step_attach")}
    for index, kind in enumerate(form.getlist("step_type")[:MAX_STEPS]):
        def value(name: str, index: int = index) -> str:
            return columns[name][index]

        if kind == "":
            continue
        if kind == "issue_document":
            document_kind = value("step_kind") or "invoice"
            series_id = None
            if document_kind not in ("invoice", "receipt"):
                errors[f"steps[{index}]"] = _("Wystawić można fakturę albo paragon.")
            elif value("step_series"):
                series_id = _owned_id(Series, merchant_id, value("step_series"))
                series = db.session.get(Series, series_id) if series_id else None
                if series is None:
                    errors[f"steps[{index}].series"] = _("Krok %(number)d, seria: wybierz serię z listy.",
                                                         number=index + 1)
                elif series.kind != document_kind:
                    errors[f"steps[{index}].series"] = _(
                        "Krok %(number)d, seria: „%(series)s” nie jest serią dla tego rodzaju dokumentu.",
                        number=index + 1, series=series.name)
            steps.append({"type": kind, "kind": document_kind, "series_id": series_id,
                          "stop_after_failure": value("step_stop") != "no"})
        elif kind == "change_status":
            status_id = _owned_id(OrderStatus, merchant_id, value("step_status"))
            if status_id is None:
                errors[f"steps[{index}]"] = _("Wybierz status, na który zmienić.")
            steps.append({"type": kind, "status_id": status_id})
        elif kind == "send_email":
            template_id = _owned_id(EmailTemplate, merchant_id, value("step_template"))
            if template_id is None:
                errors[f"steps[{index}]"] = _("Wybierz szablon e-maila.")
            attach = value("step_attach")
            if attach not in ATTACH_CHOICES:
                errors[f"steps[{index}].attach"] = _("Krok %(number)d, faktura: wybierz z listy.", number=index + 1)
            steps.append({"type": kind, "template_id": template_id, "attach": attach})
        else:
            errors[f"steps[{index}]"] = _("Nieznany rodzaj kroku.")
    if not steps and "steps" not in errors:
        errors["steps"] = _("Dodaj co najmniej jeden krok.")
    if errors:
        raise RuleRefused(errors)
    rule = rule or AutomationRule(merchant_id=merchant_id)
    rule.name, rule.trigger, rule.trigger_status_id = name, trigger, trigger_status_id
    rule.condition_source = (form.get("condition_source") or "").strip()[:100]
    rule.condition_payment = (form.get("condition_payment") or "").strip()[:100]
    rule.condition_company, rule.steps = company, steps
    rule.active = "active" in form
    db.session.add(rule)
    db.session.commit()
    return rule
