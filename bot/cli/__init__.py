"""The `newsbot` command. The only place that reads the environment, configures
logging and decides exit codes (0 ok, 1 runtime failure, 2 bad config or usage).
Commands live in `offline` (tuning tools) and `operate` (the service).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from bot import __version__
from bot import config as config_module
from bot.cli import offline, operate
from bot.cli.common import EXIT_CONFIG, EXIT_FAILURE, duration_arg, iso_date, log
from bot.errors import AlreadyRunningError, ConfigError, StartupError, StoreError
from bot.logs import configure_logging
from bot.ops.gil import favour_the_event_loop
from bot.ops.heap import limit_malloc_arenas

Handler = Callable[[argparse.Namespace, config_module.AppConfig, Mapping[str, str]], int]
_COMMANDS: dict[str, Handler] = {
    "run": operate.run, "digest": operate.digest, "feeds": operate.feeds,
    "healthcheck": operate.healthcheck_config, "prune": operate.prune,
    "check-config": offline.check_config, "match": offline.match,
    "stories": offline.stories, "backtest": offline.backtest_command,
}
_NO_CONFIG: dict[str, Callable[[argparse.Namespace, Mapping[str, str]], int]] = {
    "migrate-db": operate.migrate_db,
}


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    limit_malloc_arenas()  # before any thread starts
    favour_the_event_loop()
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
            return _NO_CONFIG.get(args.command, operate.healthcheck_url)(args, env)
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
    feeds = sub.add_parser("feeds", parents=[common],
                           help="print the state of every configured feed")
    feeds.add_argument("--enable", metavar="URL", action="append", default=[],
                       help="poll a disabled feed (410 Gone) again from the next tick; "
                            "repeatable, or 'all'")
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
    backtest.add_argument("--since", type=duration_arg, default=timedelta(days=7),
                          help="how far back (default 7d)")
    digest = sub.add_parser("digest", parents=[common],
                            help="preview a chat's daily digest, or send it now")
    digest.add_argument("--chat", type=int, required=True, help="the chat id")
    action = digest.add_mutually_exclusive_group()
    action.add_argument("--print", action="store_true", help="print it (the default)")
    action.add_argument("--send", action="store_true",
                        help="queue it as that day's digest and deliver it")
    digest.add_argument("--date", type=iso_date,
                        help="the day (YYYY-MM-DD, the chat's local date; default: the "
                             "latest digest time that has passed)")
    return parser
