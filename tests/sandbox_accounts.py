"""A fresh sandbox account per service, and the credentials/options an integration needs for it.
Used by the all-services tests, the benchmarks and anyone who wants a connected account quickly."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import requests


@dataclass
class SandboxAccount:
    service: str
    prefix: str
    credentials: dict
    base_url: str
    options: dict = field(default_factory=dict)  # the integration's options (adapter settings)


def _create(sandbox_url: str, service: str, prefix: str, token: str, options: dict | None = None) -> None:
    requests.post(f"{sandbox_url}/_sandbox/{service}/accounts", timeout=10,
                  json={"prefix": prefix, "api_token": token, "options": options or {}}).raise_for_status()


def new_account(sandbox_url: str, service: str, *, fast: bool = True) -> SandboxAccount:
    """fast: service-side pacing off where the sandbox allows it (tests); False keeps the
    service's documented limits on (benchmarks of those limits)."""
    prefix = f"a{secrets.token_hex(5)}"
    if service == "fakturownia":
        token = secrets.token_hex(12)
        _create(sandbox_url, service, prefix, token)
        return SandboxAccount(service, prefix, {"api_token": token, "account_prefix": prefix},
                              f"{sandbox_url}/fakturownia/{prefix}")
    if service == "infakt":
        key = f"key-{secrets.token_hex(12)}"
        _create(sandbox_url, service, prefix, key)
        return SandboxAccount(service, prefix, {"api_key": key}, f"{sandbox_url}/infakt",
                              {"poll_initial_delay": "0.05", "poll_max_delay": "0.2"})
    if service == "wfirma":
        keys = {"access_key": f"acc-{secrets.token_hex(8)}", "secret_key": f"sec-{secrets.token_hex(8)}",
                "app_key": f"app-{secrets.token_hex(8)}"}
        _create(sandbox_url, service, prefix, keys["access_key"],
                {"secret_key": keys["secret_key"], "app_key": keys["app_key"]})
        return SandboxAccount(service, prefix, keys, f"{sandbox_url}/wfirma")
    if service == "ifirma":
        login, invoice_key, subscriber_key = f"{prefix}@sklep.example", secrets.token_hex(8), secrets.token_hex(8)
        _create(sandbox_url, service, prefix, invoice_key, {"login": login, "key_abonent": subscriber_key,
                                                            **({} if not fast else {"rate_limit_per_minute": None})})
        return SandboxAccount(service, prefix, {"login": login, "invoice_key": invoice_key,
                                                "subscriber_key": subscriber_key}, f"{sandbox_url}/ifirma")
    if service == "firmao":
        password = f"pw-{secrets.token_hex(8)}"
        _create(sandbox_url, service, prefix, password, {"rate_limit": None} if fast else {})
        return SandboxAccount(service, prefix, {"organization_id": prefix, "login": f"{prefix}.api@firmao.pl",
                                                "password": password}, f"{sandbox_url}/firmao",
                              {"min_request_interval": "0"} if fast else {})
    if service == "fakturowo":
        key = secrets.token_hex(16)
        _create(sandbox_url, service, prefix, key, {"unit_codes": "shifted"})
        return SandboxAccount(service, prefix, {"api_id": key}, f"{sandbox_url}/fakturowo")
    raise KeyError(service)


def stored_documents(sandbox_url: str, account: SandboxAccount, **filters) -> list[dict]:
    response = requests.get(f"{sandbox_url}/_sandbox/{account.service}/documents",
                            params={"account": account.prefix, **filters}, timeout=10)
    response.raise_for_status()
    return response.json()["documents"]
