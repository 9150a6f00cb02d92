"""RQ worker entry point: `python worker.py [queue ...]`.

A SimpleWorker (no fork per job) inside the app context: jobs take ids and load rows themselves.
Queues are served in turn (round robin): exports, fetch-backs, the rest. Strict priority would let
a steady stream of exports (or of retries waiting out a rate limit) starve the fetch-backs, and a
document only shows the service's number once it is fetched. The scheduler runs delayed retries;
a sweeper thread re-enqueues work whose job was lost. Start any number of these on any number of
hosts with the same REDIS_URL and DATABASE_URL."""
import logging
import sys
import threading

from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.utils import current_timestamp
from rq.worker import DequeueStrategy

from webapp import create_app
from webapp.redis_conn import get_redis

DEFAULT_QUEUES = ("exports", "fetch", "default")

log = logging.getLogger("worker")
# A healthy scheduler moves a due job within a second; one still waiting after this long has lost it.
OVERDUE_SECONDS = 5


def release_overdue_jobs(connection, queue_names=DEFAULT_QUEUES) -> int:
    """Move delayed jobs that are overdue onto their queues.

    RQ's scheduler runs in one worker under a 61-second lock; when that worker dies the lock, and
    with it every delayed retry, waits to expire, and the other workers only try to take over every
    two minutes. The sweeper does the scheduler's work meanwhile. Should both move the same job, it
    runs twice, which every job here tolerates (an export is claimed before it is sent)."""
    moved = 0
    for name in queue_names:
        queue = Queue(name, connection=connection)
        registry = ScheduledJobRegistry(queue=queue)
        job_ids = registry.get_jobs_to_schedule(current_timestamp() - OVERDUE_SECONDS)
        for job_id, job in zip(job_ids, Job.fetch_many(job_ids, connection=connection)):
            if job is not None:  # onto the queue first: a crash in between can't lose the job
                queue.enqueue_job(job)
                moved += 1
            registry.remove(job_id)
    return moved


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
                counts = {"overdue": release_overdue_jobs(get_redis(app)), **sweep()}
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
            worker.work(with_scheduler=True, dequeue_strategy=DequeueStrategy.ROUND_ROBIN)
        finally:
            stop.set()


if __name__ == "__main__":
    main(sys.argv[1:])
