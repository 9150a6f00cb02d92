"""RQ worker entry point: `python worker.py [queue ...]`.

A SimpleWorker (no fork per job) inside the app context: jobs take ids and load rows themselves.
Queues in priority order: exports first, then fetch-backs, so a rate-limited account spends its
request budget on getting documents into the service first. The scheduler runs delayed retries;
a sweeper thread re-enqueues work whose job was lost. Start any number of these on any number of
hosts with the same REDIS_URL and DATABASE_URL."""
import logging
import sys
import threading

from rq import SimpleWorker

from webapp import create_app
from webapp.redis_conn import get_redis

DEFAULT_QUEUES = ("exports", "fetch", "default")

log = logging.getLogger("worker")


def sweeper_loop(app, stop: threading.Event) -> None:
    from webapp.exports.jobs import sweep
    from webapp.extensions import db

    interval = app.config["SWEEP_INTERVAL"]
    while not stop.wait(interval):
        # One sweeper at a time across all workers and hosts.
        try:
            if not get_redis(app).set("ib:sweeper-lock", "1", nx=True, px=int(interval * 900)):
                continue
        except Exception:  # noqa: BLE001 - Redis restarting: try again next round
            log.warning("sweeper: Redis not answering")
            continue
        with app.app_context():
            try:
                counts = sweep()
                if any(counts.values()):
                    log.info("sweeper: %s", counts)
            except Exception:
                log.exception("sweeper failed")
            finally:
                db.session.remove()


def main(queues: list[str]) -> None:
    app = create_app()
    stop = threading.Event()
    threading.Thread(target=sweeper_loop, args=(app, stop), daemon=True).start()
    with app.app_context():
        worker = SimpleWorker(queues or list(DEFAULT_QUEUES), connection=get_redis(app))
        try:
            worker.work(with_scheduler=True)
        finally:
            stop.set()


if __name__ == "__main__":
    main(sys.argv[1:])
