"""The `newsbot` command. The only place that reads the environment, configures
logging and decides exit codes (0 ok, 1 runtime failure, 2 bad config or usage).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from bot import __version__
from bot import config as config_module
from bot.backtest import StoredMatchInput, backtest, format_backtest
from bot.digest import digest_period
from bot.digest_runner import chat_schedule, period_for_day, render_for
from bot.durations import format_duration, parse_duration
from bot.errors import AlreadyRunningError, ConfigError, StartupError, StoreError
from bot.feeds.report import feed_rows, format_table
from bot.logs import configure_logging
from bot.matching import explanation_to_dict
from bot.ops.health import healthcheck, healthz_url
from bot.scheduler import run_forever
from bot.service import Service, Settings
from bot.store.copy import copy_database
from bot.store.digests import digest_chats, enqueue_digest
from bot.store.engine import DEFAULT_DATABASE_URL, create_engine, migrate
from bot.store.feeds import FeedState, feed_states, sync_feeds
from bot.store.retention import prune
from bot.store.search import StoredForBacktest, items_since
from bot.stories.cli import stories_json_lines
from bot.telegram_ui.app import DEFAULT_API_URL

log = logging.getLogger("bot")

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    secrets = [v for k, v in env.items()
               if k in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "NEWSBOT_TEST_POSTGRES_URL",
                        "TELEGRAM_WEBHOOK_SECRET") and v]
    # Database URLs on the command line carry passwords too.
    secrets += [v for v in (getattr(args, "source", None), getattr(args, "target", None)) if v]
    configure_logging(args.log_level, secrets, fmt=args.log_format)
    if args.command in _NO_CONFIG or (args.command == "healthcheck" and args.url):
        try:
            return _NO_CONFIG.get(args.command, _healthcheck_url)(args, env)
        except (StoreError, AlreadyRunningError) as exc:
            log.error("%s", exc)
            return EXIT_FAILURE
    path = config_module.resolve_path(args.config, env)
    try:
        cfg = config_module.load(path)
    except ConfigError as exc:
        print(f"{path}: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if env.get("NEWSBOT_HTTP_LISTEN"):  # the container sets it: no config edit needed
        cfg = replace(cfg, http=replace(cfg.http, listen=env["NEWSBOT_HTTP_LISTEN"]))
    handler = _COMMANDS[args.command]
    try:
        return handler(args, cfg, env)
    except (StoreError, AlreadyRunningError, StartupError) as exc:
        log.error("%s", exc)
        return EXIT_FAILURE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsbot", description=__doc__.splitlines()[0]
                                     if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config file (default: $NEWSBOT_CONFIG or "
                                         "config/newsbot.toml)")
    common.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    common.add_argument("--log-format", default="text", choices=["text", "json"],
                        help="one line per event: human-readable, or JSON")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", parents=[common], help="run the service")
    run.add_argument("--once", action="store_true",
                     help="poll every feed once, deliver what is due, exit")
    sub.add_parser("check-config", parents=[common], help="validate the config file")
    match = sub.add_parser("match", parents=[common],
                           help="match JSON lines from stdin against the topics")
    match.add_argument("--explain", action="store_true", help="show why each topic matched")
    sub.add_parser("stories", parents=[common],
                   help="group JSON lines from stdin into stories")
    sub.add_parser("feeds", parents=[common], help="print the state of every configured feed")
    health = sub.add_parser("healthcheck", parents=[common],
                            help="exit 0 when the running service is healthy (for Docker)")
    health.add_argument("--url", help="the /healthz URL (default: from [http] listen)")
    copy = sub.add_parser("migrate-db", parents=[common],
                          help="copy a deployment's database, e.g. SQLite to PostgreSQL")
    copy.add_argument("--from", dest="source", required=True, help="source database URL")
    copy.add_argument("--to", dest="target", required=True, help="target database URL "
                                                                 "(empty)")
    sub.add_parser("prune", parents=[common], help="apply the retention policy now")
    backtest = sub.add_parser(
        "backtest", parents=[common],
        help="re-run the topics of --config over stored items and compare with what "
             "matched when they arrived")
    backtest.add_argument("--since", type=_duration_arg, default=timedelta(days=7),
                          help="how far back (default 7d)")
    digest = sub.add_parser("digest", parents=[common],
                            help="preview a chat's daily digest, or send it now")
    digest.add_argument("--chat", type=int, required=True, help="the chat id")
    action = digest.add_mutually_exclusive_group()
    action.add_argument("--print", action="store_true", help="print it (the default)")
    action.add_argument("--send", action="store_true",
                        help="queue it as that day's digest and deliver it")
    digest.add_argument("--date", type=_iso_date,
                        help="the day (YYYY-MM-DD, the chat's local date; default: the "
                             "latest digest time that has passed)")
    return parser


def _settings(env: Mapping[str, str]) -> Settings:
    return Settings(database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
                    telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
                    telegram_api_url=env.get("TELEGRAM_API_URL") or DEFAULT_API_URL,
                    webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None)


def _run(args: argparse.Namespace, cfg: config_module.AppConfig,
         env: Mapping[str, str]) -> int:
    service = Service(cfg, _settings(env))
    if args.once:
        report = asyncio.run(service.run_once())
        log.info("%s", report.summary())
        return EXIT_OK
    asyncio.run(_run_until_signalled(service))
    return EXIT_OK


async def _run_until_signalled(service: Service) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_forever(service, stop)


def _check_config(args: argparse.Namespace, cfg: config_module.AppConfig,
                  env: Mapping[str, str]) -> int:
    print(f"{cfg.path}: ok: {len(cfg.feeds)} feeds, {len(cfg.topics)} topics "
          f"({', '.join(cfg.topic_slugs)})")
    return EXIT_OK


def _match(args: argparse.Namespace, cfg: config_module.AppConfig,
           env: Mapping[str, str]) -> int:
    for lineno, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError("not a JSON object")
            title, summary = str(record.get("title") or ""), str(record.get("summary") or "")
        except (ValueError, TypeError) as exc:
            print(json.dumps({"id": None, "line": lineno, "error": f"bad input: {exc}"}))
            continue
        out: dict[str, object] = {"id": record.get("id")}
        if args.explain:
            explanations = cfg.matcher.explain(title, summary)
            out["topics"] = [e.slug for e in explanations if e.matched]
            out["explain"] = [explanation_to_dict(e) for e in explanations]
        else:
            out["topics"] = [m.slug for m in cfg.matcher.match(title, summary)]
        print(json.dumps(out, ensure_ascii=False))
    return EXIT_OK


def _stories(args: argparse.Namespace, cfg: config_module.AppConfig,
             env: Mapping[str, str]) -> int:
    for out in stories_json_lines(sys.stdin):
        print(out)
    return EXIT_OK


def _feeds(args: argparse.Namespace, cfg: config_module.AppConfig,
           env: Mapping[str, str]) -> int:
    async def read() -> list[FeedState]:
        engine = create_engine(_settings(env).database_url)
        try:
            await migrate(engine)
            await sync_feeds(engine, [(f.url, f.name) for f in cfg.feeds])
            return await feed_states(engine, [f.url for f in cfg.feeds])
        finally:
            await engine.dispose()

    states = asyncio.run(read())
    print(format_table(feed_rows(states, datetime.now(UTC))))
    failing = sum(1 for s in states if s.consecutive_failures or s.disabled_reason)
    print(f"\n{len(states)} feeds, {failing} failing or disabled")
    return EXIT_OK


def _healthcheck_url(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    return healthcheck(args.url, out=sys.stdout)


def _healthcheck(args: argparse.Namespace, cfg: config_module.AppConfig,
                 env: Mapping[str, str]) -> int:
    if not cfg.http.listen:
        print("the health listener is off: set [http] listen (or NEWSBOT_HTTP_LISTEN)")
        return EXIT_FAILURE
    return healthcheck(healthz_url(cfg.http.listen), out=sys.stdout)


def _migrate_db(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    report = asyncio.run(copy_database(args.source, args.target))
    print(report.summary())
    return EXIT_OK


def _prune(args: argparse.Namespace, cfg: config_module.AppConfig,
           env: Mapping[str, str]) -> int:
    async def run() -> str:
        engine = create_engine(_settings(env).database_url)
        try:
            await migrate(engine)
            report = await prune(engine, datetime.now(UTC), cfg.retention.keep_items,
                                 cfg.retention.keep_keys)
            return report.summary()
        finally:
            await engine.dispose()

    print(asyncio.run(run()))
    return EXIT_OK


def _duration_arg(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _backtest(args: argparse.Namespace, cfg: config_module.AppConfig,
              env: Mapping[str, str]) -> int:
    async def read() -> list[StoredForBacktest]:
        engine = create_engine(_settings(env).database_url)
        try:
            await migrate(engine)
            return await items_since(engine, datetime.now(UTC) - args.since)
        finally:
            await engine.dispose()

    stored = asyncio.run(read())
    weights = {f.url: f.weight for f in cfg.feeds}
    inputs = [StoredMatchInput(s.item_id, s.title, s.summary, weights.get(s.feed_url, 1.0),
                               s.topics) for s in stored]
    diffs = backtest(inputs, cfg.matcher, cfg.topic_slugs)
    print(format_backtest(diffs, len(inputs), format_duration(args.since) + " ago"))
    return EXIT_OK


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def _digest(args: argparse.Namespace, cfg: config_module.AppConfig,
            env: Mapping[str, str]) -> int:
    return asyncio.run(_digest_async(args, cfg, env))


async def _digest_async(args: argparse.Namespace, cfg: config_module.AppConfig,
                        env: Mapping[str, str]) -> int:
    settings = _settings(env)
    service = Service(cfg, settings)
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


_COMMANDS = {"run": _run, "digest": _digest, "check-config": _check_config, "match": _match,
             "stories": _stories, "feeds": _feeds, "backtest": _backtest,
             "healthcheck": _healthcheck, "prune": _prune}
_NO_CONFIG = {"migrate-db": _migrate_db}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

