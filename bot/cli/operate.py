"""Running and operating the service: run, digest, feeds, healthcheck, prune,
migrate-db."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from bot import config as config_module
from bot.cli.common import EXIT_FAILURE, EXIT_OK, log, settings
from bot.digest import digest_period
from bot.digest_runner import chat_schedule, period_for_day, render_for
from bot.errors import AlreadyRunningError
from bot.feeds.report import feed_rows, format_table
from bot.ops.health import healthcheck, healthz_url
from bot.scheduler import run_forever
from bot.service import Service
from bot.store.copy import copy_database
from bot.store.digests import digest_chats, enqueue_digest
from bot.store.engine import create_engine, migrate
from bot.store.feeds import FeedState, enable_feeds, feed_states, sync_feeds
from bot.store.retention import prune as prune_database

LEFTOVER_GRACE = 10.0


def run(args: argparse.Namespace, cfg: config_module.AppConfig,
         env: Mapping[str, str]) -> int:
    service = Service(cfg, settings(env))
    if args.once:
        report = asyncio.run(service.run_once())
        log.info("%s", report.summary())
        return EXIT_OK
    asyncio.run(run_until_signalled(service))
    return EXIT_OK


async def run_until_signalled(service: Service) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_forever(service, stop)
    await _stop_leftover_tasks()


async def _stop_leftover_tasks() -> None:
    """Everything was closed in order; whatever task is still around (a library's
    background task) is cancelled here with a deadline. asyncio.run would otherwise wait
    for it forever, and a service that does not exit on SIGTERM gets SIGKILLed."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    if not others:
        return
    _, pending = await asyncio.wait(others, timeout=LEFTOVER_GRACE)
    if pending:
        log.error("%d task(s) did not stop within %ss; exiting anyway: %s", len(pending),
                  LEFTOVER_GRACE, ", ".join(sorted(t.get_name() for t in pending)))
        logging.shutdown()
        os._exit(0)  # the database was closed; nothing is left to save


def feeds(args: argparse.Namespace, cfg: config_module.AppConfig,
           env: Mapping[str, str]) -> int:
    configured = [f.url for f in cfg.feeds]
    to_enable = configured if "all" in args.enable else list(args.enable)
    unknown = sorted(set(to_enable) - set(configured))
    if unknown:
        print("not a configured feed URL (see `newsbot feeds`): " + ", ".join(unknown),
              file=sys.stderr)
        return EXIT_FAILURE

    async def read() -> tuple[list[str], list[FeedState]]:
        engine = create_engine(settings(env).database_url)
        try:
            await migrate(engine)
            await sync_feeds(engine, [(f.url, f.name) for f in cfg.feeds])
            enabled = await enable_feeds(engine, to_enable) if to_enable else []
            return enabled, await feed_states(engine, configured)
        finally:
            await engine.dispose()

    enabled, states = asyncio.run(read())
    for url in enabled:
        print(f"enabled: {url} (polled from the next tick)")
    for url in sorted(set(to_enable) - set(enabled)):
        if "all" not in args.enable:
            print(f"not disabled, left as it was: {url}")
    print(format_table(feed_rows(states, datetime.now(UTC))))
    failing = sum(1 for s in states if s.consecutive_failures or s.disabled_reason)
    print(f"\n{len(states)} feeds, {failing} failing or disabled")
    return EXIT_OK


def healthcheck_url(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    return healthcheck(args.url, out=sys.stdout)


def healthcheck_config(args: argparse.Namespace, cfg: config_module.AppConfig,
                 env: Mapping[str, str]) -> int:
    if not cfg.http.listen:
        print("the health listener is off: set [http] listen (or NEWSBOT_HTTP_LISTEN)")
        return EXIT_FAILURE
    return healthcheck(healthz_url(cfg.http.listen), out=sys.stdout)


def migrate_db(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    report = asyncio.run(copy_database(args.source, args.target))
    print(report.summary())
    return EXIT_OK


def prune(args: argparse.Namespace, cfg: config_module.AppConfig,
           env: Mapping[str, str]) -> int:
    async def run() -> str:
        engine = create_engine(settings(env).database_url)
        try:
            await migrate(engine)
            report = await prune_database(engine, datetime.now(UTC), cfg.retention.keep_items,
                                 cfg.retention.keep_keys)
            return report.summary()
        finally:
            await engine.dispose()

    print(asyncio.run(run()))
    return EXIT_OK


def digest(args: argparse.Namespace, cfg: config_module.AppConfig,
            env: Mapping[str, str]) -> int:
    return asyncio.run(digest_async(args, cfg, env))


async def digest_async(args: argparse.Namespace, cfg: config_module.AppConfig,
                        env: Mapping[str, str]) -> int:
    service = Service(cfg, settings(env))
    engine = service.engine
    try:
        await migrate(engine)
        found = await digest_chats(engine, [args.chat])
        if not found:
            print(f"chat {args.chat} is unknown or inactive", file=sys.stderr)
            return EXIT_FAILURE
        chat, now = found[0], datetime.now(UTC)
        at, zone = chat_schedule(chat, cfg)
        period = (period_for_day(args.date, at, zone) if args.date
                  else digest_period(now, at, zone))
        assert period is not None
        rendered = await render_for(engine, cfg, chat, period, now)
        if not args.send:
            print("\n\n".join(rendered.plain) or "(nothing to send for this period)")
            return EXIT_OK
        if not await enqueue_digest(engine, chat.id, period.key, html_chunks=rendered.html,
                                    plain_chunks=rendered.plain, thread_id=chat.thread_id,
                                    now=now):
            print(f"the digest for {period.key} was already recorded for chat {chat.id}",
                  file=sys.stderr)
            return EXIT_FAILURE
        print(f"queued the digest for {period.key} ({len(rendered.html)} message(s))")
    finally:
        await engine.dispose()
    try:  # deliver it now unless a running instance (holding the lease) will
        await service.open()
    except AlreadyRunningError:
        print("a running newsbot will deliver it")
        return EXIT_OK
    try:
        await service.drain()
    finally:
        await service.close()
    return EXIT_OK
