"""Two deployments sharing a Redis (REDIS_PREFIX) run their own scheduled jobs: arq names a
unique cron run after the job, in one namespace for the whole Redis."""

from __future__ import annotations

from bot.worker import cron_jobs, job_name, worker_functions


def test_cron_job_names_carry_the_prefix_and_never_collide() -> None:
    one, other = cron_jobs("blue"), cron_jobs("green")
    assert {job.name for job in one}.isdisjoint({job.name for job in other})
    assert [job_name(job) for job in one] == [job_name(job) for job in other]
    assert "payout_tick" in {job_name(job) for job in one}
    # queued jobs are named by their function: their ids carry the prefix (services/jobs.py)
    assert {f.name for f in worker_functions()}.isdisjoint({job.name for job in one})
