"""RQ worker entry point: `python worker.py [queue ...]`.

Runs inside the app context (jobs take ids and load rows themselves), with the scheduler on so
delayed retries run. Start any number of these on any number of hosts with the same REDIS_URL
and DATABASE_URL."""
import sys

from rq import Worker

from webapp import create_app
from webapp.redis_conn import get_redis

DEFAULT_QUEUES = ("exports", "default")


def main(queues: list[str]) -> None:
    app = create_app()
    with app.app_context():
        worker = Worker(queues or list(DEFAULT_QUEUES), connection=get_redis(app))
        worker.work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
