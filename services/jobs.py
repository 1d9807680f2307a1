"""The job queue as the rest of the product sees it: which arq job to enqueue for what, under
which id. The worker (bot/worker.py) runs these jobs; handlers and the worker's own cron ticks
enqueue them through here, so a job's name and id are spelled in one place.

Job ids carry the Redis prefix, and while a job with an id is queued or running arq refuses
another with the same id: that is what keeps one exchange's sync from being queued twice.
"""

from __future__ import annotations

from arq.connections import ArqRedis


def queue_name(redis_prefix: str) -> str:
    return f"{redis_prefix}:queue"


def sync_job_id(redis_prefix: str, exchange_id: str) -> str:
    return f"{redis_prefix}:sync:{exchange_id}"


async def enqueue_sync(redis: ArqRedis, redis_prefix: str, exchange_id: str,
                       trigger: str) -> bool:
    """Queue one exchange's sync; False if one is queued or running already."""
    job = await redis.enqueue_job("sync_exchange", exchange_id, trigger,
                                  _job_id=sync_job_id(redis_prefix, exchange_id),
                                  _queue_name=queue_name(redis_prefix))
    return job is not None


async def enqueue_sync_now(redis: ArqRedis, redis_prefix: str, exchange_id: str) -> bool:
    """For admins: run an exchange's sync now. False if one is queued or running already."""
    return await enqueue_sync(redis, redis_prefix, exchange_id, "manual")


async def enqueue_accrual(redis: ArqRedis, redis_prefix: str, exchange_id: str) -> None:
    """Book the rebates of an exchange's new or revised records (after a CSV import or a new
    estimate rate)."""
    await redis.enqueue_job("accrue_rebates", exchange_id,
                            _job_id=f"{redis_prefix}:accrue:{exchange_id}",
                            _queue_name=queue_name(redis_prefix))


async def enqueue_uid_check(redis: ArqRedis, redis_prefix: str, account_id: int) -> None:
    """Ask the exchange about a UID just linked (the trader hears the answer within seconds).
    Losing this job loses nothing: the exchange's regular sync checks every pending UID."""
    await redis.enqueue_job("check_new_uid", account_id,
                            _job_id=f"{redis_prefix}:uidcheck:{account_id}",
                            _queue_name=queue_name(redis_prefix))


async def enqueue_payout(redis: ArqRedis, redis_prefix: str, withdrawal_id: int) -> None:
    """Send an approved withdrawal now rather than at the next payout tick. Losing this job
    loses nothing: the tick pays every approved request; the engine's claim keeps the two from
    paying one request twice."""
    await redis.enqueue_job("pay_withdrawal", withdrawal_id,
                            _job_id=f"{redis_prefix}:payout:{withdrawal_id}",
                            _queue_name=queue_name(redis_prefix))
