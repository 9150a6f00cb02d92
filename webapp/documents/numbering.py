"""Document numbers: consecutive, no gaps, unique under concurrency.

The counter row of (series, period) is incremented with one UPDATE … RETURNING inside the
issuing transaction. The row lock it takes is held until that transaction ends, so a second
issuer in the same series waits, then sees the incremented value; a rolled-back issue rolls the
counter back with it, leaving no gap."""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import Series, SeriesCounter

TOKENS = ("{nr}", "{DD}", "{MM}", "{YYYY}", "{YY}")


def period_of(series: Series, issue_date: date) -> str:
    if series.reset == "monthly":
        return issue_date.strftime("%Y-%m")
    if series.reset == "yearly":
        return issue_date.strftime("%Y")
    return "all"


def format_number(fmt: str, sequence: int, issue_date: date) -> str:
    return (
        fmt.replace("{nr}", str(sequence))
        .replace("{DD}", f"{issue_date.day:02d}")
        .replace("{MM}", f"{issue_date.month:02d}")
        .replace("{YYYY}", f"{issue_date.year:04d}")
        .replace("{YY}", f"{issue_date.year % 100:02d}")
    )


def check_format(fmt: str, reset: str) -> str | None:
    """An error message for a series format that could repeat numbers, or None."""
    if "{nr}" not in fmt:
        return _("Format musi zawierać {nr} (kolejny numer).")
    if reset == "monthly" and not ("{MM}" in fmt and ("{YYYY}" in fmt or "{YY}" in fmt)):
        return _("Numeracja miesięczna wymaga {MM} i {YYYY} (lub {YY}) w formacie, "
                 "inaczej numery się powtórzą.")
    if reset == "yearly" and not ("{YYYY}" in fmt or "{YY}" in fmt):
        return _("Numeracja roczna wymaga {YYYY} (lub {YY}) w formacie, inaczej numery się powtórzą.")
    return None


def _insert_ignore(dialect_name: str):
    module = postgresql if dialect_name == "postgresql" else sqlite
    return module.insert(SeriesCounter)


def allocate_number(series: Series, issue_date: date) -> tuple[str, int, str]:
    """Take the next number in the series for the issue date: (period, sequence, formatted)."""
    period = period_of(series, issue_date)
    dialect = db.session.get_bind().dialect.name
    db.session.execute(
        _insert_ignore(dialect)
        .values(series_id=series.id, period=period, last_number=0)
        .on_conflict_do_nothing(index_elements=["series_id", "period"])
    )
    sequence = db.session.execute(
        update(SeriesCounter)
        .where(SeriesCounter.series_id == series.id, SeriesCounter.period == period)
        .values(last_number=SeriesCounter.last_number + 1)
        .returning(SeriesCounter.last_number)
    ).scalar_one()
    return period, sequence, format_number(series.format, sequence, issue_date)
