"""wFirma numbering series: templates, counters per period and the numbering control.

A series template such as ``FV [numer]/[miesiąc]/[rok]`` numbers its documents per period
(``reset``: yearly, monthly, daily). With "kontrola numeracji" on, a document must take the
series' next number and may not break the chronology (a later number with an earlier issue
date); with it off, numbers are writable but unique in the series.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from .wfirma_data import INCOME_TYPES
from .wfirma_invoices import Draft


def assign_number(draft: Draft, mode: str, taken: Callable[[str], bool]) -> dict:
    """fullnumber and its parts from the series template; wFirma's numbering control refuses a
    sent number that is not the series' next one and a date that breaks the chronology."""
    issued = date.fromisoformat(draft.fields["date"])
    requested = draft.requested
    series = draft.series
    if draft.type in INCOME_TYPES and requested.get("fullnumber"):
        return {
            "fullnumber": requested["fullnumber"],
            "number": 0,
            "day": None,
            "month": None,
            "year": None,
            "period": None,
        }
    if series is None:  # a draft: no number until issued
        return {"fullnumber": "", "number": 0, "day": None, "month": None, "year": None, "period": None}
    period = period_key(series["reset"], issued)
    state = period_state(series, period)
    expected = state["last"] + 1
    parts = {"day": issued.day, "month": issued.month, "year": issued.year}
    if "number" in requested and mode == "off":
        number = requested["number"]
        parts.update((name, requested[name]) for name in ("day", "month", "year") if name in requested)
        full = render_template(series["template"], number, **parts)
        if taken(full):
            draft.problems.add("number", f"Dokument o numerze {full} już istnieje w serii „{series['name']}”")
    elif "number" in requested and mode == "refuse":
        number = requested["number"]
        sent = {
            **parts,
            **{name: requested[name] for name in ("day", "month", "year") if name in requested},
        }
        full = render_template(series["template"], number, **sent)
        wanted = render_template(series["template"], expected, **parts)
        if number != expected or full != wanted:
            draft.problems.add(
                "number",
                f"Numer {full} nie jest zgodny z numeracją serii „{series['name']}” (szablon "
                f"„{series['template']}”): włączona kontrola numeracji wymaga kolejnego numeru {wanted}.",
            )
    else:
        number = expected
        full = render_template(series["template"], number, **parts)
        while mode == "off" and taken(full):
            number += 1
            full = render_template(series["template"], number, **parts)
    if mode != "off" and state["max_date"] and state["max_date"] > issued.isoformat():
        draft.problems.add(
            "date",
            f"Nie można wystawić faktury o numerze {full} i dacie wystawienia {issued.isoformat()}. "
            f"Inna faktura o numerze {state['max_date_number']} ma wcześniejszy numer i późniejszą datę "
            f"wystawienia {state['max_date']}. Operacja naruszyłaby chronologię i poprawność numeracji.",
        )
    return {"fullnumber": full, "number": number, **parts, "period": period}


def period_key(reset: str, day: date) -> str:
    """Which period a series' counter restarts in."""
    if reset == "monthly":
        return f"{day:%Y-%m}"
    if reset == "daily":
        return day.isoformat()
    return f"{day:%Y}"


def render_template(template: str, number: int, day: int, month: int, year: int) -> str:
    """``FV [numer]/[miesiąc]/[rok]`` -> ``FV 7/03/2026``."""
    return (
        template.replace("[numer]", str(number))
        .replace("[dzień]", f"{day:02d}")
        .replace("[miesiąc]", f"{month:02d}")
        .replace("[rok]", f"{year:04d}")
    )


def period_state(series: dict, period: str) -> dict:
    state = series["_counters"].get(period)
    if state is None:
        start = int(series["initnumber"]) if period == series["_start_period"] else 1
        state = {"last": start - 1, "max_date": None, "max_date_number": None}
    return state


def advance_counter(series: dict, period: str, number: int, doc: dict) -> None:
    state = dict(period_state(series, period))
    state["last"] = max(state["last"], number)
    if state["max_date"] is None or doc["date"] >= state["max_date"]:
        state["max_date"], state["max_date_number"] = doc["date"], doc["fullnumber"]
    series["_counters"][period] = state


def recount_period(series: dict, period: str, docs: list[dict]) -> None:
    """After a delete: the period continues from the highest number still issued."""
    series["_counters"].pop(period, None)
    for doc in sorted(docs, key=lambda d: (d["date"], int(d["number"] or 0))):
        advance_counter(series, period, int(doc["number"] or 0), doc)
