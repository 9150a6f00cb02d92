"""When the worker holding RQ's scheduler lock dies, delayed retries would wait for its lock to
expire; the sweeper moves the overdue ones onto their queues itself."""
from datetime import UTC, datetime, timedelta

from rq import Queue
from rq.registry import ScheduledJobRegistry

from webapp.exports.jobs import run_fetch
from webapp.redis_conn import get_redis
from worker import OVERDUE_SECONDS, release_overdue_jobs


def test_overdue_delayed_jobs_reach_their_queue_and_the_others_wait(app):
    connection = get_redis(app)
    queue = Queue("fetch", connection=connection)
    now = datetime.now(UTC)
    overdue = queue.enqueue_at(now - timedelta(seconds=OVERDUE_SECONDS + 30), run_fetch, 1, job_id="fetch-1-0")
    just_due = queue.enqueue_at(now - timedelta(seconds=1), run_fetch, 2, job_id="fetch-2-0")
    later = queue.enqueue_at(now + timedelta(hours=1), run_fetch, 3, job_id="fetch-3-0")

    assert release_overdue_jobs(connection) == 1

    assert queue.job_ids == [overdue.id]
    assert set(ScheduledJobRegistry(queue=queue).get_job_ids()) == {just_due.id, later.id}
    assert release_overdue_jobs(connection) == 0  # nothing moved twice
    assert queue.job_ids == [overdue.id]


def test_a_scheduled_job_whose_data_expired_is_dropped_from_the_registry(app):
    connection = get_redis(app)
    queue = Queue("exports", connection=connection)
    job = queue.enqueue_at(datetime.now(UTC) - timedelta(minutes=5), run_fetch, 1, job_id="export-9-0")
    job.delete(remove_from_queue=False)
    connection.zadd(ScheduledJobRegistry(queue=queue).key, {"export-9-0": 1})
    assert release_overdue_jobs(connection) == 0
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == [] and queue.job_ids == []
