"""SQLite state of the sandbox, shared by every emulated service.

The schema is service-agnostic: accounts, JSON records grouped in collections
(invoices, products, clients, ...) and named counters. One connection per
process guarded by a lock keeps it thread-safe under a threaded server;
``BEGIN IMMEDIATE`` keeps counters and duplicate checks atomic even when several
server processes (gunicorn workers) share the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    service    TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    api_token  TEXT NOT NULL,
    options    TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    PRIMARY KEY (service, prefix)
);
CREATE TABLE IF NOT EXISTS records (
    service    TEXT NOT NULL,
    account    TEXT NOT NULL,
    collection TEXT NOT NULL,
    id         INTEGER NOT NULL,
    number     TEXT,
    ref        TEXT,
    token      TEXT,
    data       TEXT NOT NULL,
    PRIMARY KEY (service, account, collection, id)
);
CREATE INDEX IF NOT EXISTS records_by_ref ON records (service, account, collection, ref);
CREATE INDEX IF NOT EXISTS records_by_number ON records (service, account, collection, number);
CREATE INDEX IF NOT EXISTS records_by_token ON records (service, collection, token);
CREATE TABLE IF NOT EXISTS counters (
    service TEXT NOT NULL,
    scope   TEXT NOT NULL,
    name    TEXT NOT NULL,
    value   INTEGER NOT NULL,
    PRIMARY KEY (service, scope, name)
);
"""


@dataclass(frozen=True)
class Account:
    service: str
    prefix: str
    api_token: str
    options: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "service": self.service,
            "prefix": self.prefix,
            "api_token": self.api_token,
            "options": dict(self.options),
        }


class Store:
    """Thread-safe handle on the sandbox database file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        """One atomic unit of work. ``write=False`` for pure reads: other processes may
        keep writing meanwhile (WAL), while a write transaction takes the lock up front."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
            try:
                yield Transaction(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class Transaction:
    """Operations available inside ``Store.transaction()``."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    # -- accounts -------------------------------------------------------
    def get_account(self, service: str, prefix: str) -> Account | None:
        row = self._conn.execute(
            "SELECT service, prefix, api_token, options FROM accounts WHERE service=? AND prefix=?",
            (service, prefix),
        ).fetchone()
        return _account(row) if row else None

    def list_accounts(self, service: str) -> list[Account]:
        rows = self._conn.execute(
            "SELECT service, prefix, api_token, options FROM accounts WHERE service=? ORDER BY prefix",
            (service,),
        ).fetchall()
        return [_account(row) for row in rows]

    def put_account(self, service: str, prefix: str, api_token: str, options: dict) -> tuple[Account, bool]:
        """Create the account or update its token/options. Returns (account, created)."""
        existing = self.get_account(service, prefix)
        if existing:
            merged = {**existing.options, **options}
            self._conn.execute(
                "UPDATE accounts SET api_token=?, options=? WHERE service=? AND prefix=?",
                (api_token, _dump(merged), service, prefix),
            )
            return Account(service, prefix, api_token, merged), False
        self._conn.execute(
            "INSERT INTO accounts (service, prefix, api_token, options, created_at) VALUES (?,?,?,?,?)",
            (service, prefix, api_token, _dump(options), _utc_now()),
        )
        return Account(service, prefix, api_token, dict(options)), True

    # -- counters -------------------------------------------------------
    def next_value(self, service: str, scope: str, name: str, start: int = 1) -> int:
        """Increment and return a named counter; the first value is ``start``."""
        row = self._conn.execute(
            "SELECT value FROM counters WHERE service=? AND scope=? AND name=?", (service, scope, name)
        ).fetchone()
        value = start if row is None else row[0] + 1
        self._conn.execute(
            "INSERT INTO counters (service, scope, name, value) VALUES (?,?,?,?) "
            "ON CONFLICT (service, scope, name) DO UPDATE SET value=excluded.value",
            (service, scope, name, value),
        )
        return value

    # -- records --------------------------------------------------------
    def insert(
        self,
        service: str,
        account: str,
        collection: str,
        record_id: int,
        data: dict,
        *,
        number: str | None = None,
        ref: str | None = None,
        token: str | None = None,
    ) -> None:
        self._conn.execute(
            "INSERT INTO records (service, account, collection, id, number, ref, token, data) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (service, account, collection, record_id, number, ref, token, _dump(data)),
        )

    def update(
        self,
        service: str,
        account: str,
        collection: str,
        record_id: int,
        data: dict,
        *,
        number: str | None = None,
        ref: str | None = None,
        token: str | None = None,
    ) -> None:
        self._conn.execute(
            "UPDATE records SET data=?, number=?, ref=?, token=? "
            "WHERE service=? AND account=? AND collection=? AND id=?",
            (_dump(data), number, ref, token, service, account, collection, record_id),
        )

    def delete(self, service: str, account: str, collection: str, record_id: int) -> None:
        self._conn.execute(
            "DELETE FROM records WHERE service=? AND account=? AND collection=? AND id=?",
            (service, account, collection, record_id),
        )

    def get(self, service: str, account: str, collection: str, record_id: int) -> dict | None:
        row = self._conn.execute(
            "SELECT data FROM records WHERE service=? AND account=? AND collection=? AND id=?",
            (service, account, collection, record_id),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def select(
        self,
        service: str,
        account: str | None,
        collection: str,
        *,
        number: str | None = None,
        ref: str | None = None,
    ) -> list[dict]:
        """Records of one collection in id order (``account=None``: every account's),
        optionally narrowed by number or ref."""
        sql = "SELECT data FROM records WHERE service=? AND collection=?"
        args: list[Any] = [service, collection]
        if account is not None:
            sql += " AND account=?"
            args.append(account)
        if number is not None:
            sql += " AND number=?"
            args.append(number)
        if ref is not None:
            sql += " AND ref=?"
            args.append(ref)
        rows = self._conn.execute(sql + " ORDER BY id", args).fetchall()
        return [json.loads(row[0]) for row in rows]

    def find_by_token(self, service: str, account: str, collection: str, token: str) -> dict | None:
        row = self._conn.execute(
            "SELECT data FROM records WHERE service=? AND account=? AND collection=? AND token=?",
            (service, account, collection, token),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def count(self, service: str, account: str | None, collection: str) -> int:
        if account is None:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM records WHERE service=? AND collection=?", (service, collection)
            ).fetchone()
        else:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM records WHERE service=? AND account=? AND collection=?",
                (service, account, collection),
            ).fetchone()
        return row[0]

    def count_by_account(self, service: str, collection: str) -> dict[str, int]:
        rows = self._conn.execute(
            "SELECT account, COUNT(*) FROM records WHERE service=? AND collection=? GROUP BY account",
            (service, collection),
        ).fetchall()
        return {account: count for account, count in rows}

    def wipe(self) -> None:
        for table in ("accounts", "records", "counters"):
            self._conn.execute(f"DELETE FROM {table}")


def _account(row) -> Account:
    return Account(row[0], row[1], row[2], json.loads(row[3] or "{}"))


def _dump(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
