"""A local SMTP sink for the demo: `python -m webapp.mail_sink [--port 1025]`.

Catches every message into instance/mail-sink (a Maildir) instead of delivering it; the
dashboard lists them at Ustawienia → Poczta testowa (demo mode)."""
from __future__ import annotations

import argparse
import mailbox
import os
import time
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller


def sink_folder(instance_path: str | os.PathLike) -> Path:
    return Path(instance_path) / "mail-sink"


class MaildirHandler:
    def __init__(self, folder: Path):
        self.box = mailbox.Maildir(str(folder), create=True)

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        message["X-Sink-Rcpt-To"] = ", ".join(envelope.rcpt_tos)
        self.box.add(message.as_bytes())
        return "250 Message accepted for delivery"


def caught_messages(instance_path: str | os.PathLike, limit: int = 100) -> list:
    folder = sink_folder(instance_path)
    if not folder.exists():
        return []
    box = mailbox.Maildir(str(folder), create=False)
    # Maildir keys start with the delivery time, so sorting them puts the newest first.
    return [message_from_bytes(box.get_bytes(key), policy=policy.default)
            for key in sorted(box.keys(), reverse=True)[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser(description="Local SMTP sink for the demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    args = parser.parse_args()
    folder = sink_folder(os.environ.get("INSTANCE_PATH", "instance"))
    controller = Controller(MaildirHandler(folder), hostname=args.host, port=args.port)
    controller.start()
    print(f"SMTP sink on {args.host}:{args.port}, messages in {folder}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
