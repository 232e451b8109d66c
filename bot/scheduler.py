"""What runs when: APScheduler jobs (poll cycles, outbox drain, digests, config
reload, lease renewal) on the service's asyncio loop, beside the Telegram bot,
with a clean stop that lets in-flight work finish instead of cancelling it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import AppConfig
from bot.ops.health import HealthServer, parse_listen
from bot.service import Service, Settings
from bot.store import lease

log = logging.getLogger(__name__)

__all__ = ["Service", "Settings", "cycle_tick", "run_forever"]

DRAIN_EVERY = timedelta(seconds=2)
DIGEST_TICK = timedelta(seconds=30)  # digest times are whole minutes
CONFIG_CHECK = timedelta(seconds=5)
# Each job guards itself with a lock and returns at once when a run is in progress;
# allowing APScheduler a few instances keeps it from warning about that every tick.
JOB_INSTANCES = 3
SHUTDOWN_GRACE = timedelta(seconds=20)
PRUNE_EVERY = timedelta(hours=24)


def cycle_tick(config: AppConfig) -> timedelta:
    """How often to look for due feeds: fine enough for the shortest interval."""
    shortest = min((f.interval for f in config.feeds), default=config.polling.interval)
    return max(timedelta(seconds=1), min(shortest / 4, timedelta(seconds=30)))


def _guarded(job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception:
            # A job that raises must not kill the schedule; the next tick tries again.
            log.exception("job %s failed", getattr(job, "__name__", job))
    return run


def _add_jobs(scheduler: AsyncIOScheduler, service: Service, tick: timedelta) -> None:
    now = service.clock()
    jobs: list[tuple[str, Callable[[], Awaitable[object]], timedelta, bool]] = [
        ("poll", service.poll, tick, True),
        ("drain", service.drain, DRAIN_EVERY, False),
        ("digests", service.digests, DIGEST_TICK, True),
        ("reload", service.reload_config, CONFIG_CHECK, False),
        ("lease", service.renew_lease, lease.LEASE_TTL / 3, False),
        ("prune", service.prune, PRUNE_EVERY, False),
    ]
    for name, job, every, at_once in jobs:
        scheduler.add_job(_guarded(job), "interval", seconds=every.total_seconds(),
                          max_instances=JOB_INSTANCES, coalesce=True, id=name,
                          **({"next_run_time": now} if at_once else {}))


async def run_forever(service: Service, stop: asyncio.Event) -> None:
    """Run until `stop` is set (SIGINT/SIGTERM, or the lease was lost)."""
    service.stop_event = stop
    await service.open_or_close()
    scheduler = AsyncIOScheduler(timezone=UTC)
    health: HealthServer | None = None
    try:
        if service.config.http.listen:
            host, port = parse_listen(service.config.http.listen)
            health = HealthServer(host, port, service.health, service.metrics_text)
            await health.start()
            log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)
        await service.start_telegram()
        tick = cycle_tick(service.config)
        _add_jobs(scheduler, service, tick)
        scheduler.start()
        log.info("newsbot running: %d feeds, %d topics, checking feeds every %ss",
                 len(service.config.feeds), len(service.config.topics), tick.total_seconds())
        await stop.wait()
        log.info("stopping: letting in-flight work finish")
    finally:
        # Stop starting jobs, let running ones finish (bounded), then shut down:
        # cancelling a job mid-transaction would leave work for the next start.
        if scheduler.running:
            scheduler.pause()
        await service.finish_in_flight(SHUTDOWN_GRACE)
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await service.stop_telegram()
        if health is not None:
            await health.stop()
        await service.close()
        log.info("stopped")
