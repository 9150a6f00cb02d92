"""Firmao.pl emulator (REST API "svc/v1"), mounted at ``/firmao``.

Written from the API contract notes alone. The real base URL is
``https://system.firmao.pl/{organizationId}/svc/v1/{object}``; in the sandbox a client uses
``http://HOST:PORT/firmao`` where it would use ``https://system.firmao.pl``, so an object lives at
``http://HOST:PORT/firmao/{organizationId}/svc/v1/{object}`` (e.g.
``POST http://127.0.0.1:5050/firmao/demo/svc/v1/transactions``). The double slash of some doc
examples (``/{org}//svc/v1/...``) is answered too. Transaction rules live in ``firmao_rules``,
list filters and paging in ``firmao_query``; this module is the HTTP surface and the storage.

Accounts: the sandbox account's ``prefix`` is the organisation id, its ``api_token`` the API user's
password. Every request carries HTTP Basic ``login:password``; the login is the account option
``login`` (default ``<org>.api@firmao.pl``). Demo: organisation ``demo``, login
``demo.api@firmao.pl``, password ``demo-firmao-password``.

Account options (``POST /_sandbox/firmao/accounts {"prefix", "api_token", "options"}``):
  login                 API user login (default ``<org>.api@firmao.pl``)
  company_name, nip     seller printed on PDFs
  rate_limit            ``{"requests": 1, "seconds": 1.0}`` (default): more calls than that per
                        account are answered 429 ``{"errorCode": "tooManyRequests"}`` (no Retry-After:
                        the contract documents none); ``null``/``false`` switches it off
  read_only             true: the API user lacks write rights, writes answer 403
  invoice_moves_stock   true (default): sales invoices/receipts/bills/corrections move the stock of
                        linked lines unless the body says ``"storageStateUpdate": "NO_UPDATE"``
  link_by_product_code  false (default): only a numeric ``product`` id links a line to a product;
                        true: a ``productCode`` alone links too (the contract leaves it open)
  number_required       false (default): a transaction without ``transactionNumber`` is numbered in
                        the type's default series; true: it is refused (400 fieldRequired)
  next_number_format    "json" (default, ``{"number": "1/3/2026"}``), "text" (plain) or "json_string"
  totals_method         "per_rate" (default: VAT once per rate from the net sum) or "per_line"
  direct_stock_edit     true (default): ``PUT /products/{id} {"currentStoreState": n}`` is allowed
  duplicate_nip_on_the_fly  "conflict" (default: ``createCustomerIfNeeded`` with a new name but the
                        NIP of an existing customer answers 409) or "link" (links that customer)
  total_size            "exact" (default) or "unknown_when_more" (``totalSize: -1`` while pages remain)
  max_limit             largest page (default 500); payment_types: accepted ``paymentType`` values
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
import time
from collections import deque
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, g, jsonify, request

from .faults import retry_after_header
from .firmao_pdf import transaction_pdf_document
from .firmao_query import run_query
from .firmao_rules import (
    CUSTOM_FIELD,
    DICTIONARY_TYPE,
    STOCK_TYPES,
    TRANSACTION_KEYS,
    ApiError,
    Catalog,
    SeriesPattern,
    build_entry,
    build_transaction,
    check_put,
    entity_not_found,
    field_required,
    flatten_post,
    invalid_value,
    read_amount,
    read_bool,
    read_date,
    read_int,
    read_rate,
    read_ref,
    read_text,
    totals_from_entries,
    totals_list,
)
from .firmao_setup import (
    ADDRESS_PARTS,
    BANK_ACCOUNTS,
    CUSTOMER_KEYS,
    CUSTOMER_TEXT,
    DEFAULT_OPTIONS,
    OBJECT_TYPES,
    PRODUCT_KEYS,
    PRODUCTS,
    SEED_CUSTOMER,
    SERIES,
    STORAGE_TYPES,
    STORAGEDOC_KEYS,
    STORAGEDOC_REFS,
    TRANSACTION_EDITABLE,
    WAREHOUSES,
    new_customer,
    new_product,
    options_problem,
)
from .money import round_money
from .pdf import render_pdf
from .service import WRITE_METHODS, EmulatedService
from .store import Account, Transaction

WARSAW = ZoneInfo("Europe/Warsaw")
DEMO_PASSWORD = "demo-firmao-password"
#: a client spacing its calls exactly one second apart must not trip the limit on network jitter
RATE_LIMIT_SLACK = 0.05
DEFAULT_LIMIT = 50


class FirmaoEmulator(EmulatedService):
    name = "firmao"
    document_collection = "transactions"
    demo_accounts = (("demo", DEMO_PASSWORD),)

    def __init__(self, runtime):
        super().__init__(runtime)
        #: the rate limiter's clock; tests replace it to step time instead of sleeping
        self.clock = time.monotonic
        self._calls: dict[str, deque] = {}
        self._calls_lock = threading.Lock()
        self._blueprint: Blueprint | None = None

    # -- errors -------------------------------------------------------------
    def error_response(self, message, status: int) -> Response:
        return _json({"errorCode": message}, status)

    def unauthorized(self) -> Response:
        response = self.error_response("unauthorized", 401)
        response.headers["WWW-Authenticate"] = 'Basic realm="Firmao API"'
        return response

    def throttled(self, retry_after: float) -> Response:
        """An injected 429 fault (the service's own limit answers without Retry-After)."""
        response = self.error_response("tooManyRequests", 429)
        response.headers["Retry-After"] = retry_after_header(retry_after)
        return response

    def not_found(self) -> Response:
        return self.error_response("notFound", 404)

    # -- accounts -------------------------------------------------------------
    def check_account_options(self, options: dict) -> str | None:
        return options_problem(options)

    def _options(self, account: Account) -> dict:
        options = {**DEFAULT_OPTIONS, **account.options}
        options["login"] = options["login"] or f"{account.prefix}.api@firmao.pl"
        options["company_name"] = options["company_name"] or f"Sandbox {account.prefix} sp. z o.o."
        return options

    def seed_account(self, tx: Transaction, account: Account) -> None:
        org = account.prefix
        for series_id, name, object_class, kind, mode, template, default in SERIES:
            tx.insert(
                self.name,
                org,
                "invoicenumbers",
                series_id,
                {
                    "id": series_id,
                    "name": name,
                    "objectClass": object_class,
                    "type": kind,
                    "mode": mode,
                    "pattern": template,
                    "resetPeriod": SeriesPattern(template).reset,
                    "isDefault": default,
                },
            )
        for code, product_name, unit, vat, net, gross, stock in PRODUCTS:
            product_id = tx.next_value(self.name, "*", "products", start=10001)
            tx.insert(
                self.name,
                org,
                "products",
                product_id,
                new_product(product_id, product_name, code, unit, vat, net, gross, stock),
                ref=code,
            )
        customer_id = tx.next_value(self.name, "*", "customers", start=50)
        tx.insert(self.name, org, "customers", customer_id, new_customer(customer_id, dict(SEED_CUSTOMER)))

    # -- request plumbing -----------------------------------------------------
    def account_key(self) -> str:
        return g.sandbox_account

    def authenticate(self) -> Response | None:
        with self.runtime.store.transaction(write=False) as tx:
            account = tx.get_account(self.name, g.sandbox_account)
        credentials = _basic_credentials()
        if account is None or credentials is None:
            return self.unauthorized()
        login, password = credentials
        options = self._options(account)
        if login.lower() != options["login"].lower() or not hmac.compare_digest(
            password.encode(), account.api_token.encode()
        ):
            return self.unauthorized()
        g.account, g.options = account, options
        if not self._admit(account.prefix, options["rate_limit"]):
            self.runtime.stats.fault(self.name, account.prefix, "rate_limit")
            return self.error_response("tooManyRequests", 429)
        if options["read_only"] and request.method in WRITE_METHODS:
            return self.error_response("accessDenied", 403)
        return None

    def _admit(self, account: str, limit: dict | None) -> bool:
        """The service's own limit: at most ``requests`` calls per ``seconds`` per account
        (a sliding window of admitted calls; refused ones do not count)."""
        if not limit:
            return True
        now = self.clock()
        with self._calls_lock:
            window = self._calls.setdefault(account, deque())
            while window and window[0] <= now - (limit["seconds"] - RATE_LIMIT_SLACK):
                window.popleft()
            if len(window) >= limit["requests"]:
                return False
            window.append(now)
            return True

    def mount(self, app: Flask) -> None:
        super().mount(app)
        # The same views under the doc examples' typo ``/{org}//svc/v1/...``.
        app.register_blueprint(
            self._blueprint, url_prefix=f"/{self.name}/<org>//svc/v1", name=f"{self.name}_double_slash"
        )

    def _catalog(self, tx: Transaction, org: str) -> Catalog:
        def lookup(collection: str):
            return lambda record_id: tx.get(self.name, org, collection, int(record_id))

        def product_by_code(code: str):
            found = [p for p in tx.select(self.name, org, "products", ref=code) if not p.get("deleted")]
            return found[0] if found else None

        def sale_by_number(number: str):
            found = [
                doc
                for doc in tx.select(self.name, org, "transactions", number=number)
                if doc["mode"] == "SALE" and doc["type"] != "CORRECTION"
            ]
            return found[0] if found else None

        return Catalog(
            product=lookup("products"),
            product_by_code=product_by_code,
            customer=lookup("customers"),
            bank_account=lambda record_id: BANK_ACCOUNTS.get(int(record_id)),
            warehouse=lambda record_id: WAREHOUSES.get(int(record_id)),
            sale_by_number=sale_by_number,
        )

    # -- rendering ------------------------------------------------------------
    def render_transaction(self, doc: dict) -> dict:
        """A transaction as GET shows it: amounts as numbers, references as ``{id, label}``."""
        out = {"id": doc["id"], "transactionNumber": doc["transactionNumber"]}
        out["documentNumber"] = doc["transactionNumber"]
        for key, value in doc.items():
            if key not in out and not key.startswith("_") and key != "entries":
                out[key] = value
        for key in (
            "paidValue",
            "restOfPaidValue",
            "transactionNettoPrice",
            "transactionVatPrice",
            "transactionBruttoPrice",
            "exchangeRate",
            "factor",
        ):
            out[key] = _number(doc.get(key))
        out["dateLabel"] = "SELL_DATE"
        out["documentDate"] = doc["invoiceDate"]
        out["transactionOrInvoiceDate"] = doc["transactionDate"] or doc["invoiceDate"]
        out["paymentStatus"] = _payment_status(doc)
        customer = doc.get("_customer")
        out["customer"] = dict(customer) if customer else None
        bank = BANK_ACCOUNTS.get(doc.get("bankAccount"))
        out["bankAccount"] = {"id": doc["bankAccount"], "label": bank[0]} if bank else None
        warehouse = doc.get("warehouse")
        out["warehouse"] = (
            {"id": warehouse, "name": WAREHOUSES[warehouse]} if warehouse in WAREHOUSES else None
        )
        out["permissions"] = _permissions(g.get("options"))
        return out

    def render_entry(self, entry: dict, owner: dict, owner_class: str) -> dict:
        out = {key: value for key, value in entry.items() if not key.startswith("_")}
        for key in (
            "quantity",
            "unitNettoPrice",
            "unitBruttoPrice",
            "nettoPrice",
            "vatPrice",
            "bruttoPrice",
            "discount",
        ):
            out[key] = _number(entry.get(key))
        out["vatPercent"] = int(entry["vatPercent"]) if entry["vatPercent"].isdecimal() else entry["vatPercent"]
        out["product"] = {"id": entry["product"], "name": entry["name"]} if entry["product"] else None
        label = owner.get("transactionNumber") or owner.get("storageDocNumber")
        if owner_class == "transaction":
            out["transaction"] = {"id": owner["id"], "label": label}
        else:
            out["storageDoc"] = {"id": owner["id"], "label": label}
        return out

    def render_product(self, product: dict) -> dict:
        out = {key: value for key, value in product.items() if not key.startswith("_")}
        for key in (
            "netPrice",
            "grossPrice",
            "saleNetPrice",
            "saleGrossPrice",
            "currentStoreState",
            "warningStoreState",
            "netPriceInStore",
            "margin",
        ):
            out[key] = _number(product.get(key))
        stock = Decimal(product["currentStoreState"])
        out["overrunState"] = _number(str(-stock)) if stock < 0 else 0
        out["permissions"] = _permissions(g.get("options"))
        return out

    def render_customer(self, customer: dict) -> dict:
        out = {key: value for key, value in customer.items() if not key.startswith("_")}
        digits = re.sub(r"\D", "", customer.get("nipNumber") or "")
        out["vatUE"] = f"PL {digits}" if len(digits) == 10 else None
        out["permissions"] = _permissions(g.get("options"))
        return out

    def render_storagedoc(self, doc: dict) -> dict:
        out = {key: value for key, value in doc.items() if not key.startswith("_") and key != "entries"}
        out["warehouse"] = {"id": doc["warehouse"], "name": WAREHOUSES.get(doc["warehouse"])}
        return out

    def inspect_documents(self, account: str | None, args) -> list[dict]:
        """Stored transactions for ``GET /_sandbox/firmao/documents``: ``number``, ``kind`` or ``type``
        (e.g. ``invoice`` or ``INVOICE``) and ``oid``/``reference`` (a custom field's value, or text
        in ``description`` / ``invoiceAnnotations``) narrow the list."""
        with self.runtime.store.transaction(write=False) as tx:
            records = tx.select(self.name, account, "transactions", number=args.get("number"))
        kind = (args.get("kind") or args.get("type") or "").upper()
        reference = args.get("oid") or args.get("reference")
        found = []
        for doc in records:
            if kind and doc["type"] != kind:
                continue
            if reference and not _mentions(doc, reference):
                continue
            rendered = self.render_transaction(doc)
            rendered["transactionEntries"] = [
                self.render_entry(e, doc, "transaction") for e in doc["entries"]
            ]
            rendered["_sandbox"] = {
                "account": doc["_account"],
                "input": doc["_input"],
                "sentTotals": doc["_sent_totals"],
                "rateTotals": doc["_rate_totals"],
                "stockMoves": [
                    {"product": e["product"], "change": e["_moved"]}
                    for e in doc["entries"]
                    if e.get("_moved")
                ],
            }
            found.append(rendered)
        return found

    # -- blueprint ------------------------------------------------------------
    def build_blueprint(self) -> Blueprint:
        bp = Blueprint(self.name, __name__, url_prefix="/<org>/svc/v1")
        self._blueprint = bp

        @bp.url_value_preprocessor
        def pull_account(_endpoint, values):
            g.sandbox_account = values.pop("org")

        @bp.errorhandler(ApiError)
        def api_error(error: ApiError):
            return _json(error.body, error.status)

        @bp.errorhandler(404)
        def not_found(_error):
            return self.not_found()

        def route(path: str, view, methods=("GET",), endpoint: str | None = None):
            # merge_slashes off: a "//" is answered by the double-slash mount, not redirected
            bp.add_url_rule(path, endpoint or view.__name__, view, methods=list(methods), merge_slashes=False)

        route("/transactions", self.list_transactions)
        route("/transactions", self.create_transaction, ["POST"])
        route("/transactions/<int:object_id>", self.get_transaction)
        route("/transactions/<int:object_id>", self.update_transaction, ["PUT"])
        route("/transactionentries", self.list_entries)
        route("/transactionentries", self.create_entry, ["POST"])
        route("/transactionentries/<int:entry_id>", self.get_entry)
        route("/transactionentries/<int:entry_id>", self.delete_entry, ["DELETE"])
        route("/reports/invoices/transaction/<template>/<file_name>.pdf", self.transaction_pdf)
        route("/invoicenumbers", self.list_series)
        route("/invoicenumbers/next", self.next_number)
        route("/products", self.list_products)
        route("/products", self.create_product, ["POST"])
        route("/products/<int:object_id>", self.get_product)
        route("/products/<int:object_id>", self.update_product, ["PUT"])
        route("/customers", self.list_customers)
        route("/customers", self.create_customer, ["POST"])
        route("/customers/<int:object_id>", self.get_customer)
        route("/customers/<int:object_id>", self.update_customer, ["PUT"])
        route("/storagedocs", self.list_storagedocs)
        route("/storagedocs", self.create_storagedoc, ["POST"])
        route("/documents", self.list_documents)
        route("/<object_name>/<int:object_id>/documentsUpload", self.upload_document, ["POST"])
        return bp

    def _list(self, records: list[dict], default_sort: str, hide_deleted: bool = True) -> Response:
        options = g.options
        answer = run_query(
            records,
            request.args,
            default_sort=default_sort,
            max_limit=options["max_limit"],
            default_limit=DEFAULT_LIMIT,
            total_size=options["total_size"],
            hide_deleted=hide_deleted,
        )
        return jsonify(answer)

    # -- transactions -----------------------------------------------------------
    def list_transactions(self):
        with self.runtime.store.transaction(write=False) as tx:
            docs = tx.select(self.name, g.sandbox_account, "transactions")
        return self._list([self.render_transaction(doc) for doc in docs], "id")

    def get_transaction(self, object_id: int):
        with self.runtime.store.transaction(write=False) as tx:
            doc = tx.get(self.name, g.sandbox_account, "transactions", object_id)
        if doc is None:
            raise entity_not_found("id", object_id, "transaction", status=404)
        return jsonify(self.render_transaction(doc))

    def create_transaction(self):
        body = _json_object()
        flat = flatten_post(body, TRANSACTION_KEYS)
        org, options = g.sandbox_account, g.options
        with self.runtime.store.transaction() as tx:
            draft = build_transaction(
                flat, self._catalog(tx, org), _today(), options, tuple(options["payment_types"])
            )
            header = draft.header
            number = self._transaction_number(tx, org, draft)
            changelog: list[dict] = []
            customer = self._resolve_customer(tx, org, draft, changelog)
            transaction_id = tx.next_value(self.name, "*", "transactions", start=50001)
            now = _utc_now()
            moves_stock = (
                options["invoice_moves_stock"]
                and header["type"] in STOCK_TYPES
                and header["storageStateUpdate"] != "NO_UPDATE"
            )
            header["storageStateUpdate"] = "AUTO_UPDATE" if moves_stock else "NO_UPDATE"
            doc = {
                "id": transaction_id,
                "transactionNumber": number,
                **header,
                "documentGenerated": False,
                "deleted": False,
                "author": {"id": 1, "label": options["login"]},
                "creationDate": now,
                "lastUpdateDate": now,
                "entries": [],
                "_customer": _customer_summary(customer),
                "_account": org,
                "_input": body,
                "_sent_totals": draft.sent_totals,
                "_rate_totals": draft.rate_totals,
                "_original_id": draft.original["id"] if draft.original else None,
            }
            if customer is not None:
                doc["customer"] = customer["id"]
                doc["customerName"] = doc["customerName"] or customer["name"]
            label = f"{number} - {customer['label']}" if customer else number
            changelog.append(_created("transaction", transaction_id, label))
            for entry in draft.entries:
                entry_id = tx.next_value(self.name, "*", "entries", start=200001)
                doc["entries"].append({"id": entry_id, **entry, "_moved": None})
                changelog.append(_created("transactionentry", entry_id, entry["name"]))
            if customer is not None:
                changelog.append(self._count_transaction(tx, org, customer))
            if moves_stock:
                sign = -1 if header["mode"] == "SALE" else 1
                for entry in doc["entries"]:
                    changelog.extend(self._move_entry(tx, org, entry, sign))
            tx.insert(self.name, org, "transactions", transaction_id, doc, number=number)
        self.document_stored(org)
        return _json(
            {"changelog": changelog, "showCustomVatWarning": "true" if draft.custom_vat_warning else "false"},
            201,
        )

    def _transaction_number(self, tx: Transaction, org: str, draft) -> str:
        """The client's number (unique among sales), else the next one of the type's default series."""
        header, number = draft.header, draft.requested_number
        taken = self._taken_numbers(tx, org)
        on = date.fromisoformat(header["invoiceDate"])
        dictionary_type = DICTIONARY_TYPE[header["type"]]
        if number is None:
            if g.options["number_required"]:
                raise field_required("transactionNumber")
            series = self._default_series(tx, org, "transaction", dictionary_type, header["mode"])
            return SeriesPattern(series["pattern"]).next_number(on, taken)
        if header["mode"] == "SALE" and number in self._taken_numbers(tx, org, sales_only=True):
            raise ApiError(
                400,
                {
                    "errorCode": "transactionNumberAlreadyExists",
                    "additionalInfo": {
                        "suggestedNumber": self._suggest(tx, org, number, dictionary_type, on, taken)
                    },
                },
            )
        return number

    def _suggest(
        self, tx: Transaction, org: str, number: str, dictionary_type: str, on: date, taken: set
    ) -> str:
        """Next free number of the series the refused number belongs to (else the type's default)."""
        candidates = [
            series
            for series in tx.select(self.name, org, "invoicenumbers")
            if series["objectClass"] == "transaction" and series["mode"] in (None, "SALE")
        ]
        for series in candidates:
            pattern = SeriesPattern(series["pattern"])
            if pattern.regex(None).fullmatch(number):
                return pattern.next_number(on, taken)
        series = self._default_series(tx, org, "transaction", dictionary_type, "SALE")
        return SeriesPattern(series["pattern"]).next_number(on, taken)

    def _taken_numbers(self, tx: Transaction, org: str, sales_only: bool = False) -> set[str]:
        return {
            doc["transactionNumber"]
            for doc in tx.select(self.name, org, "transactions")
            if not sales_only or doc["mode"] == "SALE"
        }

    def _default_series(
        self, tx: Transaction, org: str, object_class: str, kind: str, mode: str | None
    ) -> dict:
        candidates = [
            series
            for series in tx.select(self.name, org, "invoicenumbers")
            if series["objectClass"] == object_class
            and series["type"] == kind
            and (series["mode"] is None or mode is None or series["mode"] == mode)
        ]
        return next((s for s in candidates if s["isDefault"]), candidates[0])

    def _resolve_customer(self, tx: Transaction, org: str, draft, changelog: list) -> dict | None:
        """``customer`` links a card; ``createCustomerIfNeeded`` links the card of that name or makes one."""
        if draft.customer_id is not None:
            return tx.get(self.name, org, "customers", draft.customer_id)
        if not draft.create_customer:
            return None
        header = draft.header
        name = header["customerName"]
        cards = [card for card in tx.select(self.name, org, "customers") if not card.get("deleted")]
        same_name = [card for card in cards if card["name"].strip().lower() == name.strip().lower()]
        if same_name:
            return same_name[0]
        digits = re.sub(r"\D", "", header["nipNumber"] or "")
        same_nip = [
            card for card in cards if digits and re.sub(r"\D", "", card.get("nipNumber") or "") == digits
        ]
        if same_nip:
            if g.options["duplicate_nip_on_the_fly"] == "link":
                return same_nip[0]
            raise _duplicate("customer", "nipNumber", same_nip[0], same_nip[0]["nipNumber"])
        customer_id = tx.next_value(self.name, "*", "customers", start=50)
        address = {part: (header["customerAddress"] or {}).get(part) for part in ADDRESS_PARTS}
        card = new_customer(
            customer_id,
            {
                "name": name,
                "label": name,
                "nipNumber": header["nipNumber"],
                "officeAddress": address,
                "emails": draft.emails,
                "phones": draft.phones,
            },
        )
        tx.insert(self.name, org, "customers", customer_id, card)
        changelog.append(_created("customer", customer_id, card["label"]))
        return card

    def _count_transaction(self, tx: Transaction, org: str, customer: dict) -> dict:
        card = tx.get(self.name, org, "customers", customer["id"])
        old = card.get("transactionsCount", 0)
        card["transactionsCount"] = old + 1
        tx.update(self.name, org, "customers", card["id"], card)
        return _changed("customer", card["id"], card["label"], "transactionsCount", old, old + 1, "long")

    def _move_entry(
        self, tx: Transaction, org: str, entry: dict, sign: int, undo: bool = False
    ) -> list[dict]:
        """Move a linked entry's goods (``sign`` -1 takes them out); ``undo`` reverses a past move.
        Returns the product's CHANGE changelog entry."""
        if undo:
            change = -Decimal(entry["_moved"]) if entry.get("_moved") else None
        else:
            change = sign * Decimal(entry["_goods_out"]) if entry.get("_goods_out") else None
        if not change or entry["product"] is None:
            return []
        product = tx.get(self.name, org, "products", entry["product"])
        if product is None:
            return []
        old = Decimal(product["currentStoreState"])
        product["currentStoreState"] = str(old + change)
        product["lastUpdateDate"] = _utc_now()
        tx.update(self.name, org, "products", product["id"], product, ref=product["productCode"])
        entry["_moved"] = None if undo else str(change)
        return [_stock_change(product, old, old + change)]

    def update_transaction(self, object_id: int):
        body = check_put(_json_object(), TRANSACTION_KEYS)
        org = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            doc = tx.get(self.name, org, "transactions", object_id)
            if doc is None:
                raise entity_not_found("id", object_id, "transaction", status=404)
            changelog = []
            for key, value in body.items():
                if key not in TRANSACTION_EDITABLE and not CUSTOM_FIELD.fullmatch(key):
                    raise invalid_value(key, value)
                changelog.extend(self._edit_transaction(tx, org, doc, key, value))
            doc["lastUpdateDate"] = _utc_now()
            tx.update(self.name, org, "transactions", object_id, doc, number=doc["transactionNumber"])
        return _json({"changelog": changelog}, 200)

    def _edit_transaction(self, tx: Transaction, org: str, doc: dict, key: str, value) -> list[dict]:
        label = doc["transactionNumber"]
        if CUSTOM_FIELD.fullmatch(key):
            name = key.split(".", 1)[1]
            old, new = doc["customFields"].get(name), read_text(value, key)
            doc["customFields"][name] = new
            return [_changed("transaction", doc["id"], label, key, old, new, "string")]
        if key == "deleted":
            deleted = read_bool(value, key)
            if deleted == doc["deleted"]:
                return []
            changes = []
            if doc["storageStateUpdate"] == "AUTO_UPDATE":  # a deleted document gives its goods back
                sign = -1 if doc["mode"] == "SALE" else 1
                for entry in doc["entries"]:
                    changes.extend(self._move_entry(tx, org, entry, sign, undo=deleted))
            doc["deleted"] = deleted
            return [_changed("transaction", doc["id"], label, key, not deleted, deleted, "boolean"), *changes]
        if key.startswith("customerAddress."):
            part = key.split(".", 1)[1]
            old, new = doc["customerAddress"].get(part), read_text(value, key)
            doc["customerAddress"][part] = new
            return [_changed("transaction", doc["id"], label, key, old, new, "string")]
        old = doc.get(key)
        if key in ("invoiceDate", "transactionDate", "paymentDate", "actualPaymentDate"):
            new = _iso(read_date(value, key))
            value_class = "date"
        elif key in ("paid", "splitPayment"):
            new, value_class = bool(read_bool(value, key)), "boolean"
        elif key == "paidValue":
            new, value_class = str(read_amount(value, key) or Decimal(0)), "float"
        elif key in ("paymentType", "actualPaymentType"):
            new, value_class = read_text(value, key), "string"
            if new not in g.options["payment_types"]:
                raise invalid_value(key, value)
        elif key == "transactionNumber":
            new, value_class = read_text(value, key), "string"
            if not new:
                raise field_required(key)
            others = {
                other["transactionNumber"]
                for other in tx.select(self.name, org, "transactions", number=new)
                if other["id"] != doc["id"] and other["mode"] == "SALE"
            }
            if doc["mode"] == "SALE" and others:
                taken = self._taken_numbers(tx, org)
                on = date.fromisoformat(doc["invoiceDate"])
                suggested = self._suggest(tx, org, new, DICTIONARY_TYPE[doc["type"]], on, taken)
                raise ApiError(
                    400,
                    {
                        "errorCode": "transactionNumberAlreadyExists",
                        "additionalInfo": {"suggestedNumber": suggested},
                    },
                )
        else:
            new, value_class = read_text(value, key), "string"
        doc[key] = new
        if key in ("paid", "paidValue"):
            _settle(doc, key)
        return [_changed("transaction", doc["id"], doc["transactionNumber"], key, old, new, value_class)]

    # -- entries ------------------------------------------------------------------
    def _all_entries(self, tx: Transaction, org: str) -> list[tuple[dict, dict, str]]:
        """(entry, owner document, owner class) for every line of transactions and storage docs."""
        found = []
        for collection, owner_class in (("transactions", "transaction"), ("storagedocs", "storagedoc")):
            for owner in tx.select(self.name, org, collection):
                found.extend((entry, owner, owner_class) for entry in owner["entries"])
        return found

    def list_entries(self):
        with self.runtime.store.transaction(write=False) as tx:
            rows = self._all_entries(tx, g.sandbox_account)
        rendered = [self.render_entry(entry, owner, cls) for entry, owner, cls in rows]
        return self._list(rendered, "id", hide_deleted=False)

    def get_entry(self, entry_id: int):
        with self.runtime.store.transaction(write=False) as tx:
            rows = [row for row in self._all_entries(tx, g.sandbox_account) if row[0]["id"] == entry_id]
        if not rows:
            raise entity_not_found("id", entry_id, "transactionentry", status=404)
        return jsonify(self.render_entry(*rows[0]))

    def create_entry(self):
        """A line added to an existing transaction (``transaction``) or storage document (``storageDoc``)."""
        body = _json_object()
        org, options = g.sandbox_account, g.options
        with self.runtime.store.transaction() as tx:
            if body.get("storageDoc") is not None:
                collection, owner_class, key = "storagedocs", "storagedoc", "storageDoc"
            elif body.get("transaction") is not None:
                collection, owner_class, key = "transactions", "transaction", "transaction"
            else:
                raise field_required("transaction")
            owner_id = read_ref(body[key], key)
            owner = tx.get(self.name, org, collection, owner_id)
            if owner is None:
                raise entity_not_found(key, owner_id, owner_class)
            mode = owner.get("mode") or "SALE"
            entry = build_entry(
                body, self._catalog(tx, org), options, bool(owner.get("calculateFromGross")), mode
            )
            entry_id = tx.next_value(self.name, "*", "entries", start=200001)
            entry = {"id": entry_id, **entry, "recordId": len(owner["entries"]) + 1, "_moved": None}
            owner["entries"].append(entry)
            changelog = [_created("transactionentry", entry_id, entry["name"])]
            changelog.extend(self._move_entry(tx, org, entry, self._stock_sign(owner, owner_class)))
            if owner_class == "transaction":
                self._retotal(owner)
            tx.update(self.name, org, collection, owner_id, owner, number=_owner_number(owner))
        return _json({"changelog": changelog, "id": entry_id}, 201)

    def delete_entry(self, entry_id: int):
        org = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            rows = [row for row in self._all_entries(tx, org) if row[0]["id"] == entry_id]
            if not rows:
                raise entity_not_found("id", entry_id, "transactionentry", status=404)
            entry, owner, owner_class = rows[0]
            changelog = self._move_entry(tx, org, entry, 0, undo=True)
            owner["entries"] = [e for e in owner["entries"] if e["id"] != entry_id]
            if owner_class == "transaction":
                self._retotal(owner)
            collection = "transactions" if owner_class == "transaction" else "storagedocs"
            tx.update(self.name, org, collection, owner["id"], owner, number=_owner_number(owner))
        deleted = {**_created("transactionentry", entry_id, entry["name"]), "modification": "DELETE"}
        return _json({"changelog": [deleted, *changelog]}, 200)

    def _stock_sign(self, owner: dict, owner_class: str) -> int:
        if owner_class == "storagedoc":
            # goods come in with an income document, go out with a release
            return STORAGE_TYPES[owner["type"]] if owner["storageStateUpdate"] == "AUTO_UPDATE" else 0
        if owner["storageStateUpdate"] != "AUTO_UPDATE" or owner.get("deleted"):
            return 0
        return -1 if owner["mode"] == "SALE" else 1

    def _retotal(self, doc: dict) -> None:
        per_rate = totals_from_entries(doc["entries"], doc["calculateFromGross"], g.options["totals_method"])
        for key, part in (
            ("transactionNettoPrice", "net"),
            ("transactionVatPrice", "vat"),
            ("transactionBruttoPrice", "gross"),
        ):
            doc[key] = str(sum((t[part] for t in per_rate.values()), Decimal(0)))
        doc["_rate_totals"] = totals_list(per_rate)
        _settle(doc, "paid" if doc["paid"] else "paidValue")

    # -- PDF ------------------------------------------------------------------------
    def transaction_pdf(self, template: str, file_name: str):
        raw_id = request.args.get("id")
        if not raw_id:
            raise field_required("id")
        transaction_id = read_int(raw_id, "id")
        org = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            doc = tx.get(self.name, org, "transactions", transaction_id)
            if doc is None:
                raise entity_not_found("id", transaction_id, "transaction", status=404)
            doc["documentGenerated"], doc["lastSelectedInvoiceReport"] = True, template
            tx.update(self.name, org, "transactions", doc["id"], doc, number=doc["transactionNumber"])
        original = request.args.get("original", "true").lower() == "true"
        pdf = render_pdf(transaction_pdf_document(doc, g.options, original))
        response = Response(pdf, mimetype="application/pdf")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", file_name) or "document"
        response.headers["Content-Disposition"] = f'inline; filename="{safe}.pdf"'
        return response

    # -- numbering series -------------------------------------------------------------
    def list_series(self):
        with self.runtime.store.transaction(write=False) as tx:
            series = tx.select(self.name, g.sandbox_account, "invoicenumbers")
        return self._list(series, "id")

    def next_number(self):
        args, org = request.args, g.sandbox_account
        object_class, kind = args.get("objectClass"), args.get("type")
        mode = args.get("mode") or None
        for name, value in (("objectClass", object_class), ("type", kind)):
            if not value:
                raise field_required(name)
        if object_class not in OBJECT_TYPES:
            raise invalid_value("objectClass", object_class)
        if kind not in OBJECT_TYPES[object_class]:
            raise invalid_value("type", kind)
        if mode is not None and mode not in ("SALE", "PURCHASE"):
            raise invalid_value("mode", mode)
        with self.runtime.store.transaction(write=False) as tx:
            if args.get("id"):
                series_id = read_int(args["id"], "id")
                series = tx.get(self.name, org, "invoicenumbers", series_id)
                if series is None:
                    raise entity_not_found("id", series_id, "invoicenumber")
                if (series["objectClass"], series["type"]) != (object_class, kind) or (
                    mode and series["mode"] not in (None, mode)
                ):
                    raise invalid_value("id", args["id"])
            else:
                series = self._default_series(tx, org, object_class, kind, mode or "SALE")
            if object_class == "transaction":
                taken = self._taken_numbers(tx, org)
            elif object_class == "storagedoc":
                taken = {doc["storageDocNumber"] for doc in tx.select(self.name, org, "storagedocs")}
            else:
                taken = set()
        number = SeriesPattern(series["pattern"]).next_number(_today(), taken)
        style = g.options["next_number_format"]
        if style == "text":
            return Response(number, mimetype="text/plain")
        return jsonify(number if style == "json_string" else {"number": number})

    # -- products -------------------------------------------------------------------
    def list_products(self):
        with self.runtime.store.transaction(write=False) as tx:
            products = tx.select(self.name, g.sandbox_account, "products")
        return self._list([self.render_product(p) for p in products], "name")

    def get_product(self, object_id: int):
        with self.runtime.store.transaction(write=False) as tx:
            product = tx.get(self.name, g.sandbox_account, "products", object_id)
        if product is None:
            raise entity_not_found("id", object_id, "product", status=404)
        return jsonify(self.render_product(product))

    def create_product(self):
        flat = flatten_post(_json_object(), PRODUCT_KEYS)
        name = read_text(flat.get("name"), "name")
        if not name:
            raise field_required("name")
        vat = read_rate(flat.get("vat", 23), "vat")
        fraction = Decimal(vat) / 100 if vat.isdecimal() else Decimal(0)
        net = read_amount(flat.get("saleNetPrice"), "saleNetPrice")
        gross = read_amount(flat.get("saleGrossPrice"), "saleGrossPrice")
        if net is None and gross is not None:
            net = round_money(gross / (1 + fraction))
        if gross is None:
            gross = round_money((net or Decimal(0)) * (1 + fraction))
        stock = read_amount(flat.get("currentStoreState"), "currentStoreState") or Decimal(0)
        org = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            product_id = tx.next_value(self.name, "*", "products", start=10001)
            product = new_product(
                product_id,
                name,
                read_text(flat.get("productCode"), "productCode"),
                read_text(flat.get("unit"), "unit") or "szt.",
                int(vat) if vat.isdecimal() else vat,
                str(net or Decimal(0)),
                str(gross),
                str(stock),
            )
            product["classificationNumber"] = read_text(
                flat.get("classificationNumber"), "classificationNumber"
            )
            tx.insert(self.name, org, "products", product_id, product, ref=product["productCode"])
        return _json({"changelog": [_created("product", product_id, name)]}, 201)

    def update_product(self, object_id: int):
        body = check_put(_json_object(), PRODUCT_KEYS)
        org = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            product = tx.get(self.name, org, "products", object_id)
            if product is None:
                raise entity_not_found("id", object_id, "product", status=404)
            changelog = []
            for key, value in body.items():
                old = product.get(key)
                if key == "currentStoreState":
                    if not g.options["direct_stock_edit"]:
                        raise ApiError(
                            400, {"errorCode": "directStoreStateModificationDisabled", "field": key}
                        )
                    new = read_amount(value, key)
                    if new is None:
                        raise field_required(key)
                    product[key] = str(new)
                    changelog.append(_stock_change(product, Decimal(old), new))
                    continue
                if key in (
                    "netPrice",
                    "grossPrice",
                    "saleNetPrice",
                    "saleGrossPrice",
                    "warningStoreState",
                    "netPriceInStore",
                ):
                    new = str(read_amount(value, key))
                elif key == "vat":
                    rate = read_rate(value, key)
                    new = int(rate) if rate.isdecimal() else rate
                elif key in ("saleable", "deleted"):
                    new = read_bool(value, key)
                else:
                    new = read_text(value, key)
                product[key] = new
                changelog.append(_changed("product", object_id, product["name"], key, old, new, "string"))
            product["lastUpdateDate"] = _utc_now()
            tx.update(self.name, org, "products", object_id, product, ref=product["productCode"])
        return _json({"changelog": changelog}, 200)

    # -- customers ------------------------------------------------------------------
    def list_customers(self):
        with self.runtime.store.transaction(write=False) as tx:
            customers = tx.select(self.name, g.sandbox_account, "customers")
        return self._list([self.render_customer(c) for c in customers], "name")

    def get_customer(self, object_id: int):
        with self.runtime.store.transaction(write=False) as tx:
            customer = tx.get(self.name, g.sandbox_account, "customers", object_id)
        if customer is None:
            raise entity_not_found("id", object_id, "customer", status=404)
        return jsonify(self.render_customer(customer))

    def create_customer(self):
        flat = flatten_post(_json_object(), CUSTOMER_KEYS, refs=())
        for key in ("name", "label"):
            if not read_text(flat.get(key), key):
                raise field_required(key)
        data = {key: read_text(flat.get(key), key) for key in CUSTOMER_TEXT}
        for kind in ("officeAddress", "correspondenceAddress"):
            data[kind] = {
                part: read_text(flat.get(f"{kind}.{part}"), f"{kind}.{part}") for part in ADDRESS_PARTS
            }
        for key in ("emails", "phones", "customerGroups", "tags"):
            value = flat.get(key) or []
            if not isinstance(value, list):
                raise invalid_value(key, value)
            data[key] = value
        org = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            self._check_unique_customer(tx, org, data, None)
            customer_id = tx.next_value(self.name, "*", "customers", start=50)
            card = new_customer(customer_id, data)
            tx.insert(self.name, org, "customers", customer_id, card)
        return _json({"changelog": [_created("customer", customer_id, card["label"])]}, 201)

    def _check_unique_customer(self, tx: Transaction, org: str, data: dict, own_id: int | None) -> None:
        """The service refuses a second customer with the same NIP or identification number (409)."""
        for key in ("nipNumber", "identificationNumber"):
            digits = re.sub(r"\D", "", data.get(key) or "")
            if not digits:
                continue
            for card in tx.select(self.name, org, "customers"):
                if (
                    card["id"] != own_id
                    and not card.get("deleted")
                    and re.sub(r"\D", "", card.get(key) or "") == digits
                ):
                    raise _duplicate("customer", key, card, card[key])

    def update_customer(self, object_id: int):
        body = check_put(_json_object(), CUSTOMER_KEYS)
        org = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            card = tx.get(self.name, org, "customers", object_id)
            if card is None:
                raise entity_not_found("id", object_id, "customer", status=404)
            changelog = []
            for key, value in body.items():
                if "." in key:
                    kind, part = key.split(".", 1)
                    old = card[kind].get(part)
                    card[kind][part] = new = read_text(value, key)
                elif key in ("emails", "phones", "customerGroups", "tags"):
                    if not isinstance(value, list):
                        raise invalid_value(key, value)
                    old, new = card.get(key), value
                    card[key] = value
                elif key == "deleted":
                    old, new = card.get(key), read_bool(value, key)
                    card[key] = new
                else:
                    old, new = card.get(key), read_text(value, key)
                    card[key] = new
                changelog.append(_changed("customer", object_id, card["label"], key, old, new, "string"))
            self._check_unique_customer(tx, org, card, object_id)
            card["lastUpdateDate"] = _utc_now()
            tx.update(self.name, org, "customers", object_id, card)
        return _json({"changelog": changelog}, 200)

    # -- storage documents ---------------------------------------------------------------
    def list_storagedocs(self):
        with self.runtime.store.transaction(write=False) as tx:
            docs = tx.select(self.name, g.sandbox_account, "storagedocs")
        return self._list([self.render_storagedoc(doc) for doc in docs], "id")

    def create_storagedoc(self):
        """A stock document (PZ/WZ/...); lines come inline or later via ``POST /transactionentries``."""
        body = _json_object()
        flat = flatten_post(body, STORAGEDOC_KEYS, refs=STORAGEDOC_REFS)
        kind = read_text(flat.get("type"), "type")
        if not kind:
            raise field_required("type")
        if kind not in STORAGE_TYPES:
            raise invalid_value("type", kind)
        warehouse = read_ref(flat.get("warehouse"), "warehouse") or 1
        if warehouse not in WAREHOUSES:
            raise entity_not_found("warehouse", warehouse, "warehouse")
        update = read_text(flat.get("storageStateUpdate"), "storageStateUpdate") or "AUTO_UPDATE"
        if update not in ("AUTO_UPDATE", "NO_UPDATE"):
            raise invalid_value("storageStateUpdate", update)
        org, options = g.sandbox_account, g.options
        with self.runtime.store.transaction() as tx:
            number = read_text(flat.get("storageDocNumber"), "storageDocNumber")
            if number is None:
                series = self._default_series(tx, org, "storagedoc", kind.lower(), None)
                taken = {doc["storageDocNumber"] for doc in tx.select(self.name, org, "storagedocs")}
                number = SeriesPattern(series["pattern"]).next_number(_today(), taken)
            doc_id = tx.next_value(self.name, "*", "storagedocs", start=30001)
            now = _utc_now()
            doc = {
                "id": doc_id,
                "type": kind,
                "storageDocNumber": number,
                "warehouse": warehouse,
                "storageStateUpdate": update,
                "documentDate": _iso(read_date(flat.get("documentDate"), "documentDate"))
                or _today().isoformat(),
                "paymentType": read_text(flat.get("paymentType"), "paymentType"),
                "currency": read_text(flat.get("currency"), "currency") or "PLN",
                "calculateFromGross": bool(read_bool(flat.get("calculateFromGross"), "calculateFromGross")),
                "description": read_text(flat.get("description"), "description"),
                "creationDate": now,
                "lastUpdateDate": now,
                "entries": [],
            }
            changelog = [_created("storagedoc", doc_id, number)]
            catalog = self._catalog(tx, org)
            for raw in flat.get("transactionEntries") or []:
                entry = build_entry(raw, catalog, options, doc["calculateFromGross"], "SALE")
                entry_id = tx.next_value(self.name, "*", "entries", start=200001)
                entry = {"id": entry_id, **entry, "recordId": len(doc["entries"]) + 1, "_moved": None}
                doc["entries"].append(entry)
                changelog.append(_created("transactionentry", entry_id, entry["name"]))
                changelog.extend(self._move_entry(tx, org, entry, self._stock_sign(doc, "storagedoc")))
            tx.insert(self.name, org, "storagedocs", doc_id, doc, number=number)
        return _json({"changelog": changelog, "id": doc_id}, 201)

    # -- attachments -------------------------------------------------------------------
    def list_documents(self):
        with self.runtime.store.transaction(write=False) as tx:
            files = tx.select(self.name, g.sandbox_account, "documents")
        return self._list(files, "name")

    def upload_document(self, object_name: str, object_id: int):
        collections = {
            "transactions": "transaction",
            "customers": "customer",
            "products": "product",
            "storagedocs": "storagedoc",
        }
        if object_name not in collections:
            return self.not_found()
        upload = request.files.get("file")
        if upload is None:
            raise field_required("file")
        org = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            if tx.get(self.name, org, object_name, object_id) is None:
                raise entity_not_found("id", object_id, collections[object_name], status=404)
            document_id = tx.next_value(self.name, "*", "documents", start=70001)
            content = upload.read()
            record = {
                "id": document_id,
                "name": upload.filename,
                "contentType": upload.mimetype,
                "fileSize": len(content),
                "description": request.form.get("description"),
                "objectClass": collections[object_name],
                "objectId": object_id,
                "url": f"{request.url_root.rstrip('/')}/{self.name}/{org}/svc/v1/documents/{document_id}",
            }
            tx.insert(self.name, org, "documents", document_id, record)
        attach = {
            **_created(collections[object_name], object_id, upload.filename),
            "modification": "ATTACH",
            "property": "documents",
            "newValueId": str(document_id),
        }
        return _json({"changelog": [attach]}, 201)


# ---------------------------------------------------------------------------
# helpers


def _json(body, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _json_object() -> dict:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, {"errorCode": "invalidJson"})
    return body


def _basic_credentials() -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if header[:6].lower() != "basic ":
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    login, colon, password = text.partition(":")
    return (login, password) if colon else None


def _number(text) -> float | None:
    """GET answers carry amounts as JSON numbers (``818.85``). Amounts are computed as
    Decimal; only the final rendering turns them into a JSON number."""
    if text is None:
        return None
    return float(Decimal(str(text)))


def _today() -> date:
    return datetime.now(WARSAW).date()


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _permissions(options: dict | None) -> dict:
    writable = not (options or {}).get("read_only")
    return {"read": True, "edit": writable, "delete": writable}


def _payment_status(doc: dict) -> str:
    gross, paid = Decimal(doc["transactionBruttoPrice"]), Decimal(doc["paidValue"])
    if doc["paid"] or (paid and paid >= gross):
        return "PAID"
    return "PARTIALLY_PAID" if paid > 0 else "NOT_PAID"


def _settle(doc: dict, changed: str) -> None:
    """Keep ``paidValue`` / ``restOfPaidValue`` in step after ``paid`` or ``paidValue`` changes."""
    gross = Decimal(doc["transactionBruttoPrice"])
    if changed == "paid" and doc["paid"]:
        doc["paidValue"] = str(gross)
        doc["actualPaymentDate"] = doc.get("actualPaymentDate") or _today().isoformat()
    elif changed == "paid":
        doc["paidValue"] = "0"
    doc["restOfPaidValue"] = str(gross - Decimal(doc["paidValue"]))


def _owner_number(owner: dict) -> str | None:
    return owner.get("transactionNumber") or owner.get("storageDocNumber")


def _mentions(doc: dict, reference: str) -> bool:
    if reference in (doc.get("customFields") or {}).values():
        return True
    return any(reference in (doc.get(key) or "") for key in ("description", "invoiceAnnotations"))


def _customer_summary(customer: dict | None) -> dict | None:
    if customer is None:
        return None
    return {"id": customer["id"], "label": customer["label"], "emails": list(customer.get("emails") or [])}


def _duplicate(object_name: str, field_name: str, card: dict, value) -> ApiError:
    return ApiError(
        409,
        {
            "errorCode": "duplicateValueFoundException",
            "objectName": object_name,
            "fieldName": field_name,
            "duplicateValues": [{"lineNumber": -1, "objectId": card["id"], "value": value}],
        },
    )


def _created(object_class: str, object_id: int, label) -> dict:
    return {
        "modification": "CREATE",
        "objectClass": object_class,
        "objectId": object_id,
        "objectLabel": label or "",
        "property": "",
        "deletedWith": "",
        "newValueIsDictionary": False,
        "oldValueIsDictionary": False,
    }


def _display(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _changed(object_class, object_id, label, prop, old, new, value_class) -> dict:
    return {
        **_created(object_class, object_id, label),
        "modification": "CHANGE",
        "property": prop,
        "oldValueDisplay": _display(old),
        "newValueDisplay": _display(new),
        "oldValueClass": value_class,
        "newValueClass": value_class,
    }


def _stock_change(product: dict, old: Decimal, new: Decimal) -> dict:
    return {
        **_changed("product", product["id"], product["name"], "currentStoreState", old, new, "float"),
        "subClass": "warehouse",
        "subId": 1,
        "subLabel": WAREHOUSES[1],
    }


EMULATOR = FirmaoEmulator
