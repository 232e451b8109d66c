"""Offline tools for tuning and checking: check-config, match, stories, backtest.
They read the config, stdin or the database; they never send anything."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from bot import config as config_module
from bot.backtest import StoredMatchInput, backtest, format_backtest
from bot.cli.common import EXIT_OK, settings
from bot.durations import format_duration
from bot.matching import explanation_to_dict
from bot.store.engine import create_engine, migrate
from bot.store.search import StoredForBacktest, items_since
from bot.stories.cli import stories_json_lines


def check_config(args: argparse.Namespace, cfg: config_module.AppConfig,
                  env: Mapping[str, str]) -> int:
    print(f"{cfg.path}: ok: {len(cfg.feeds)} feeds, {len(cfg.topics)} topics "
          f"({', '.join(cfg.topic_slugs)})")
    return EXIT_OK


def match(args: argparse.Namespace, cfg: config_module.AppConfig,
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


def stories(args: argparse.Namespace, cfg: config_module.AppConfig,
             env: Mapping[str, str]) -> int:
    for out in stories_json_lines(sys.stdin):
        print(out)
    return EXIT_OK


def backtest_command(args: argparse.Namespace, cfg: config_module.AppConfig,
              env: Mapping[str, str]) -> int:
    async def read() -> list[StoredForBacktest]:
        engine = create_engine(settings(env).database_url)
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
