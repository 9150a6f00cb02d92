"""On an account with a request budget, fetch-backs yield to creates still waiting: a bulk run
spends the budget on getting documents into the service first, then fetches them back."""
from rq import Queue
from rq.registry import ScheduledJobRegistry

from tests.conftest import gen_order, run_jobs, run_queue_once
from webapp.documents.services import issue_document
from webapp.exports import limits as limits_module
from webapp.exports.services import EXPORT_QUEUE, FETCH_QUEUE
from webapp.extensions import db
from webapp.models import Export, JournalEntry
from webapp.redis_conn import get_redis


def test_a_window_share_is_kept_free_for_more_urgent_requests(app):
    limits = limits_module.AccountLimits(get_redis(app), 998)
    assert limits.take_request_slot(4, 60, count=1) == 0.0
    assert limits.take_request_slot(4, 60, count=2, reserve=2) > 0  # 1 used + 2 + 2 kept free > 4
    assert limits.take_request_slot(4, 60, count=2, reserve=1) == 0.0  # 1 + 2 + 1 fits
    assert limits.take_request_slot(4, 60, count=1, reserve=1) > 0  # the kept one stays free
    assert limits.take_request_slot(4, 60, count=1) == 0.0  # ...for a request that needs no reserve
    fresh = limits_module.AccountLimits(get_redis(app), 997)
    assert fresh.take_request_slot(4, 60, count=2, reserve=100) == 0.0  # an empty window always serves


def _journal_actions() -> list[tuple[str, int]]:
    return [(e.action, e.document_id) for e in db.session.scalars(db.select(JournalEntry).order_by(JournalEntry.id))]


def test_fetch_back_waits_while_creates_need_the_request_budget(app, merchant_user, fakturownia):
    integration = fakturownia.integration
    integration.rate_requests, integration.rate_seconds = 4, 60  # a tight documented-style budget
    db.session.commit()

    first = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    run_queue_once(app, EXPORT_QUEUE)  # created: one request of four spent, its fetch is queued
    others = [issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test") for _ in range(2)]

    run_queue_once(app, FETCH_QUEUE)
    db.session.expire_all()
    export = db.session.scalar(db.select(Export).where(Export.document_id == first.id))
    assert export.state == "sent"  # the fetch (two reads) would leave too little for the two creates
    assert ("fetch", first.id) not in _journal_actions()
    fetch_queue = Queue(FETCH_QUEUE, connection=get_redis(app))
    fetch_registry = ScheduledJobRegistry(queue=fetch_queue)
    assert fetch_registry.count == 1  # put off, not dropped

    run_queue_once(app, EXPORT_QUEUE)
    db.session.expire_all()
    created = {e.document_id for e in db.session.scalars(db.select(Export).where(Export.state == "sent"))}
    assert created == {first.id} | {d.id for d in others}  # both creates got the budget
    assert [a for a, _ in _journal_actions()] == ["create", "create", "create"]

    # With the creates done nothing holds the fetches back: a fresh window lets them all through.
    integration.rate_seconds = 1
    db.session.commit()
    limits_module.AccountLimits(get_redis(app), integration.id).reset()
    for job_id in fetch_registry.get_job_ids():  # due now rather than in a minute
        fetch_registry.remove(job_id)
        fetch_queue.enqueue_job(fetch_queue.fetch_job(job_id))
    run_jobs(app, max_seconds=30)
    assert {e.state for e in db.session.scalars(db.select(Export))} == {"fetched"}
    assert sorted(a for a, _ in _journal_actions()) == ["create"] * 3 + ["fetch"] * 3


def test_a_busy_account_with_a_backlog_spreads_its_jobs_instead_of_spinning(app, merchant_user, fakturownia):
    """Every slot of the account taken (a slow service) and 40 creates waiting: the deferred jobs
    come back spread over seconds, not all within 0.3 s, so they don't cycle through the queue in
    front of other accounts' jobs; none of them is sent meanwhile."""
    import time

    integration = fakturownia.integration
    integration.max_concurrency = 1
    db.session.commit()
    for _ in range(40):
        issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    limits = limits_module.AccountLimits(get_redis(app), integration.id)
    assert limits.acquire(1, 60) is not None  # the account's one slot is busy

    run_queue_once(app, EXPORT_QUEUE)
    registry = ScheduledJobRegistry(queue=Queue(EXPORT_QUEUE, connection=get_redis(app)))
    due_in = [score - time.time() for _, score in get_redis(app).zrange(registry.key, 0, -1, withscores=True)]
    assert len(due_in) == 40
    assert max(due_in) > 2.0  # spread with the backlog (40 × 0.25 s per slot, up to 10.3 s)
    db.session.expire_all()
    assert {(e.state, e.attempts) for e in db.session.scalars(db.select(Export))} == {("queued", 0)}
