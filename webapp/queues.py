"""The one way jobs are put on a queue: under a deterministic id, at most once."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from rq import Queue
from rq.exceptions import DuplicateJobError

from .redis_conn import get_redis


def queue(name: str) -> Queue:
    return Queue(name, connection=get_redis(current_app))


def enqueue_once(queue_name: str, func, *args, job_id: str, delay: float = 0.0, **options) -> bool:
    """Queue `func(*args)` as `job_id`, after `delay` seconds when given. An id that already has a
    job gets no second one (a double click, a job that ran again): False then, True when queued."""
    target = queue(queue_name)
    options = {"result_ttl": 0, **options, "job_id": job_id, "unique": True}
    try:
        if delay > 0:
            target.enqueue_in(timedelta(seconds=delay), func, *args, **options)
        else:
            target.enqueue(func, *args, **options)
    except DuplicateJobError:
        return False
    return True
