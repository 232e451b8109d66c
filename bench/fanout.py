"""Delivery benchmark (issue 7): outbox throughput under Telegram's flood limits.

    .venv/bin/python bench/fanout.py [--chats 2000] [--burst 50] [--change-chats 600]

The product's real delivery path: `Drainer(engine, TelegramSender(app.bot), config)`, with
the PTB application built as the service builds it (`build_application` with
`AIORateLimiter(overall_max_rate=delivery.max_per_second, max_retries=0)`), a fresh SQLite
database per scenario in a temporary folder, and outbox rows queued by `save_poll` as a
poll cycle queues them. The Bot API emulator runs in ANOTHER PROCESS in strict mode
(`python -m tests.fakes.telegram_api --rate-limits`: 30/s global with a burst of 30, 1/s
per chat with a burst of 3, 20/min per group), so the CPU figures are the bot's alone.

Scenarios:
1. fan-out: one alert to N private chats (default 2,000).
2. burst:   B alerts (default 50) for ONE chat, all due at once (the drainer batches more
            than 3 into one list message).
3. change:  a fan-out to M chats (default 600) during which the emulator's global limit
            drops to 20/s without notice (`/_control/set_rate_limits`, after 5 s).

Each scenario is driven as the service drives it: `drain(now)` with the real clock, then
again at the next 2-second scheduler tick (`DRAIN_EVERY`) while rows are pending (a 429
defers a chat's rows by retry_after), until nothing is pending or in flight, or a deadline
passes. Timings are the emulator's arrival times of successful sendMessage calls (what
Telegram would have seen), from the first drain call. "steady" is the rate between the
10% and the 90% marks of the delivered messages (the initial burst and the tail left out);
"msg/s" is messages / time to the last one. Lost = expected minus delivered, checked in
the emulator's messages (not in our own bookkeeping); dup = alerts received more than once.
The sender is wrapped to tally what each send came back as: a retry that is not a 429
(a timeout, a network error) is otherwise invisible, the drainer does not log it.

Experiments (not the service's wiring, and said so in the output): `--max-per-second R`
overrides `delivery.max_per_second`; `--pace-burst N` paces with
`AIORateLimiter(overall_max_rate=N, overall_time_period=N/R)`, the same rate with a burst
of N instead of R; `--emulator-backlog N` starts the emulator with a listen backlog of N
instead of socketserver's 5 (the first burst of ~30 new connections overflows 5: connections
wait ~1 s for the SYN-ACK retransmit, and a few are reset, seen as httpx.ReadError).
`--profile PATH` writes cProfile stats of the fan-out's drains.

Figures, not pass/fail timings; the exit status is 1 only if an alert was lost. The emulator
process is always stopped, also on error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `bot` imports from here

from tests.support.processes import cpu_seconds, url_child  # noqa: E402

TELEGRAM_LIMIT = 30.0  # messages per second: Telegram's broadcast limit, the emulator's
TARGET_RATIO = 0.9
TOKEN = "123456789:AAEmulatorTestToken_0123456789abcdefg"
FEED_URL = "http://127.0.0.1:1/bench.xml"
FANOUT_BASE, BURST_CHAT, CHANGE_BASE = 10_000_000, 20_000_001, 30_000_000
# Setup only: chats are created a few at a time. A lone SQLite connection (the store uses
# NullPool) pays a WAL checkpoint with 4 fdatasync calls on every close, so one chat after
# the other costs ~25 ms; four at a time keep a connection open and the setup short.
SETUP_CONCURRENCY = 4


@dataclass(frozen=True)
class Options:
    max_per_second: float | None  # None: the config default
    pace_burst: float | None  # None: AIORateLimiter's burst = its rate, as the service
    profile: str | None
    emulator_backlog: int | None = None


# --------------------------------------------------------------------------- emulator


@dataclass
class Emulator:
    process: subprocess.Popen[bytes]
    api_root: str

    def control(self, action: str, **arguments: Any) -> Any:
        request = urllib.request.Request(
            f"{self.api_root}/_control/{action}", data=json.dumps(arguments).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if not answer.get("ok"):
            raise RuntimeError(f"emulator control {action}: {answer.get('description')}")
        return answer["result"]

    def rate_limited(self) -> int:
        return int(self.control("info")["rate_limited_count"])

    def send_calls(self) -> list[dict[str, Any]]:
        """Every sendMessage call so far, in arrival order (append-only)."""
        calls: list[dict[str, Any]] = self.control("calls", method="sendMessage")
        return calls

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)


@contextmanager
def emulator_process(backlog: int | None = None) -> Iterator[Emulator]:
    """The emulator in another process; `backlog` (experiment) replaces its listen backlog
    (socketserver's default, 5) before it starts."""
    args = ["--port", "0", "--rate-limits", "--token", TOKEN]
    cmd = [sys.executable, "-m", "tests.fakes.telegram_api", *args]
    if backlog:
        cmd = [sys.executable, "-c",
               "import sys\nfrom tests.fakes import telegram_http\n"
               f"telegram_http._Server.request_queue_size = {backlog}\n"
               "from tests.fakes.telegram_api import main\nmain(sys.argv[1:])\n", *args]
    with url_child(cmd, "the emulator", timeout=60) as (process, url):
        yield Emulator(process, url)


# --------------------------------------------------------------------------- the product


def bench_config(max_per_second: float | None) -> Any:
    from bot import config as config_module

    delivery = f"\n[delivery]\nmax_per_second = {max_per_second}\n" if max_per_second else ""
    return config_module.loads(f"""
[[feeds]]
url = "{FEED_URL}"
name = "Bench News"

[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs'
{delivery}""")


class CountingSender:
    """The real TelegramSender, with a tally of what each send came back as."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.outcomes: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # the rest of the Sender protocol (edits), as is

    async def send(self, chat_id: int, text: str, **options: Any) -> Any:
        outcome = await self.inner.send(chat_id, text, **options)
        reason = getattr(outcome, "reason", None)
        name = type(outcome).__name__
        self.outcomes[f"{name}({reason})" if reason else name] += 1
        return outcome


class Scenario:
    """A fresh SQLite database, chats known to the emulator and subscribed here, alerts
    queued by `save_poll`, and the service's PTB application and drainer."""

    def __init__(self, emulator: Emulator, config: Any, options: Options, folder: Path,
                 name: str) -> None:
        self.emulator = emulator
        self.config = config
        self.options = options
        self.path = folder / f"{name}.db"
        self.drain_log: list[str] = []

    async def __aenter__(self) -> Scenario:
        from telegram.ext import AIORateLimiter

        from bot.delivery.outbox import Drainer
        from bot.delivery.telegram import TelegramSender
        from bot.store.engine import create_engine, migrate
        from bot.store.feeds import sync_feeds
        from bot.telegram_ui.app import build_application
        from bot.telegram_ui.base import CommandContext

        self.engine = create_engine(f"sqlite:///{self.path}")
        await migrate(self.engine)
        await sync_feeds(self.engine, [(FEED_URL, "Bench News")])
        rate = self.config.delivery.max_per_second
        burst = self.options.pace_burst
        if burst:  # experiment: the same rate with a smaller burst than `rate`
            limiter = AIORateLimiter(overall_max_rate=burst, overall_time_period=burst / rate,
                                     max_retries=0)
        else:  # as bot/service.py builds it
            limiter = AIORateLimiter(overall_max_rate=rate, max_retries=0)
        ctx = CommandContext(engine=self.engine, config=self.config)
        self.app = build_application(TOKEN, self.emulator.api_root, ctx, limiter)
        await self.app.initialize()  # getMe, as the service does before sending
        self.sender: Any = CountingSender(TelegramSender(self.app.bot))
        self.drainer = Drainer(self.engine, self.sender, self.config)
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            await self.app.shutdown()
        finally:
            await self.engine.dispose()

    async def add_chats(self, chat_ids: Sequence[int]) -> None:
        from bot.store import chats as chat_store

        now = datetime.now(UTC)
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def one(chat_id: int) -> None:
            async with gate:
                await asyncio.to_thread(self.emulator.control, "add_chat", chat_id=chat_id,
                                        chat_type="private")
                await chat_store.ensure_chat(self.engine, chat_id, "private",
                                             f"bench {chat_id}", now)
                await chat_store.subscribe(self.engine, chat_id, ["tariffs"], None, now)

        await asyncio.gather(*(one(c) for c in chat_ids))

    async def queue(self, titles: Sequence[str]) -> int:
        """One poll's new items, each matching the topic every chat follows."""
        from bot.model import Item, TopicMatch
        from bot.store.feeds import FetchUpdate, feed_states
        from bot.store.ingest import IncomingItem, save_poll

        now = datetime.now(UTC)
        state = (await feed_states(self.engine))[0]
        incoming = []
        for n, title in enumerate(titles):
            item = Item(key=f"bench-{n}", feed_url=FEED_URL, source="Bench News", title=title,
                        summary="New tariffs on rare earth magnets take effect on Monday.",
                        url=f"https://example.org/bench/{n}",
                        published_at=now - timedelta(minutes=5), first_seen_at=now)
            incoming.append(IncomingItem(item=item, canonical_url=item.url, story_key=item.key,
                                         matches=(TopicMatch("tariffs", 1.0),), alertable=True))
        result = await save_poll(self.engine, state, FetchUpdate(
            status="ok", success=True, etag=None, last_modified=None, error=None,
            next_poll_at=now + timedelta(minutes=10)), incoming, now)
        return result.alerts_queued

    async def drive(self, deadline_s: float) -> tuple[float, int]:
        """drain(now) as the service calls it: now, then at each 2-second tick while
        anything is pending. Returns (wall-clock start, number of drain calls)."""
        from bot.scheduler import DRAIN_EVERY
        from bot.store.outbox import counts_by_status

        loop = asyncio.get_running_loop()
        start_wall, start = time.time(), loop.time()
        tick = DRAIN_EVERY.total_seconds()
        drains = 0
        while True:
            report = await self.drainer.drain(datetime.now(UTC))
            drains += 1
            self.drain_log.append(f"{loop.time() - start:.1f} s: {report.sent} sent/"
                                  f"{report.retried} retried/{report.failed} failed")
            counts = await counts_by_status(self.engine)
            if not counts.get("pending") and not counts.get("sending"):
                break
            elapsed = loop.time() - start
            if elapsed > deadline_s:
                print(f"  ! deadline of {deadline_s:.0f} s passed with {counts} in the outbox",
                      file=sys.stderr)
                break
            await asyncio.sleep(tick * (math.floor(elapsed / tick) + 1) - elapsed)
        return start_wall, drains


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """What one driven scenario produced, as the emulator and this process saw it."""

    t0: float  # wall clock of the first drain call
    drains: int
    calls: list[dict[str, Any]]  # this scenario's sendMessage calls
    rate_limited: int
    cpu_s: float
    emulator_cpu_s: float
    stall_ms: float
    outcomes: Counter[str]
    drain_log: list[str]
    statuses: dict[str, int]

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["status"] == 200]


async def loop_ticker(worst: list[float], period: float = 0.010) -> None:
    """The event loop's worst lateness (a stall delays every paced send behind it)."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(period)
        worst[0] = max(worst[0], loop.time() - start - period)


async def measured(sc: Scenario, deadline_s: float, profile: str | None = None,
                   during: Callable[[], Coroutine[Any, Any, None]] | None = None) -> Run:
    from bot.store.outbox import counts_by_status

    emulator = sc.emulator
    emulator.control("set_rate_limits", limits={})  # fresh buckets at Telegram's limits
    seen = len(emulator.send_calls())
    limited0, emu_cpu0, cpu0 = emulator.rate_limited(), emulator.cpu_seconds(), \
        time.process_time()
    worst = [0.0]
    tasks = [asyncio.create_task(loop_ticker(worst))]
    if during:
        tasks.append(asyncio.create_task(during()))
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    try:
        t0, drains = await sc.drive(deadline_s)
    finally:
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(profile)
            print(f"  profile (event-loop thread only) written to {profile}", file=sys.stderr)
        for task in tasks:
            task.cancel()
    cpu, emu_cpu = time.process_time() - cpu0, emulator.cpu_seconds() - emu_cpu0
    run = Run(t0, drains, emulator.send_calls()[seen:], emulator.rate_limited() - limited0,
              cpu, emu_cpu, worst[0] * 1000, Counter(sc.sender.outcomes), sc.drain_log,
              await counts_by_status(sc.engine))
    emulator.control("set_rate_limits", limits={})  # undo a change made `during` the run
    return run


@dataclass
class Result:
    label: str
    expected: int  # alerts that must arrive
    delivered: int  # alerts found in the emulator's messages
    duplicates: int
    run: Run
    notes: list[str] = field(default_factory=list)
    changed_at: float | None = None  # s into the run when the emulator's limits changed

    def rate_limited_split(self) -> tuple[int, int]:
        """429s (under the limits the run started with, after they changed)."""
        times = [c["at"] - self.run.t0 for c in self.run.calls if c["status"] == 429]
        if self.changed_at is None:
            return len(times), 0
        before = sum(1 for t in times if t < self.changed_at)
        return before, len(times) - before

    @property
    def lost(self) -> int:
        return self.expected - self.delivered

    @property
    def arrivals(self) -> list[float]:
        return sorted(c["at"] - self.run.t0 for c in self.run.ok)

    def rates(self) -> tuple[float, float, float]:
        """(seconds to the last message, messages/second overall, steady rate)."""
        times = self.arrivals
        if not times:
            return math.nan, 0.0, math.nan
        last = times[-1]
        overall = len(times) / last if last > 0 else math.nan
        lo, hi = int(len(times) * 0.1), int(len(times) * 0.9) - 1
        span = times[hi] - times[lo] if hi - lo >= 10 else 0.0
        return last, overall, (hi - lo) / span if span > 0 else math.nan

    def per_second(self) -> list[int]:
        counts = Counter(int(t) for t in self.arrivals)
        return [counts.get(s, 0) for s in range(max(counts, default=-1) + 1)]


def fanout_result(label: str, title: str, chat_ids: Sequence[int], run: Run) -> Result:
    per_chat = Counter(int(c["params"]["chat_id"]) for c in run.ok
                       if title in str(c["params"].get("text", "")))
    delivered = sum(1 for chat_id in chat_ids if per_chat[chat_id] > 0)
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    return Result(label, len(chat_ids), delivered, duplicates, run)


async def run_fanout(emulator: Emulator, config: Any, options: Options, folder: Path,
                     chats: int) -> Result:
    title = "US raises tariffs on rare earths (fan-out)"
    async with Scenario(emulator, config, options, folder, "fanout") as sc:
        chat_ids = [FANOUT_BASE + i for i in range(chats)]
        await sc.add_chats(chat_ids)
        queued = await sc.queue([title])
        run = await measured(sc, 30 + 3 * chats / TELEGRAM_LIMIT, profile=options.profile)
    result = fanout_result(f"fan-out {chats}", title, chat_ids, run)
    result.notes.append(f"{queued} outbox rows queued by save_poll")
    return result


async def run_burst(emulator: Emulator, config: Any, options: Options, folder: Path,
                    alerts: int) -> Result:
    titles = [f"Tariff story {n:03d} of the burst" for n in range(alerts)]
    async with Scenario(emulator, config, options, folder, "burst") as sc:
        await sc.add_chats([BURST_CHAT])
        queued = await sc.queue(titles)
        run = await measured(sc, 60 + 3 * alerts)
    text = "\n".join(str(c["params"].get("text", "")) for c in run.ok)
    found = {t: text.count(t) for t in titles}
    result = Result(f"burst {alerts} to 1 chat", alerts,
                    sum(1 for n in found.values() if n > 0),
                    sum(n - 1 for n in found.values() if n > 1), run)
    result.notes.append(f"{queued} outbox rows queued by save_poll; {alerts} alerts became "
                        f"{len(run.ok)} Telegram message(s)")
    return result


async def run_change(emulator: Emulator, config: Any, options: Options, folder: Path,
                     chats: int, after: float, rate: float) -> Result:
    title = "US raises tariffs on rare earths (limits change)"

    async def tighten() -> None:
        await asyncio.sleep(after)
        await asyncio.to_thread(emulator.control, "set_rate_limits", limits={
            "global_per_second": rate, "global_burst": max(1, int(rate))})

    async with Scenario(emulator, config, options, folder, "change") as sc:
        chat_ids = [CHANGE_BASE + i for i in range(chats)]
        await sc.add_chats(chat_ids)
        queued = await sc.queue([title])
        run = await measured(sc, 30 + 3 * chats / rate, during=tighten)
    result = fanout_result(f"limits change {chats}", title, chat_ids, run)
    result.changed_at = after
    result.notes.append(f"{queued} outbox rows queued; the emulator's global limit went from "
                        f"{TELEGRAM_LIMIT:g}/s to {rate:g}/s (burst {max(1, int(rate))}) "
                        f"{after:g} s into the run, unannounced")
    return result


# --------------------------------------------------------------------------- report


def print_table(results: Sequence[Result]) -> None:
    head = (f"{'scenario':<20} {'alerts':>6} {'msgs':>5} {'lost':>4} {'dup':>3} {'429s':>5} "
            f"{'last s':>7} {'msg/s':>6} {'steady':>6} {'ratio':>5} {'CPU s':>6} "
            f"{'emu CPU':>7} {'stall':>6}")
    print(head)
    print("-" * len(head))
    for r in results:
        last, overall, steady = r.rates()
        ratio = f"{steady / TELEGRAM_LIMIT:5.2f}" if not math.isnan(steady) else f"{'-':>5}"
        steady_text = f"{steady:6.1f}" if not math.isnan(steady) else f"{'-':>6}"
        overall_text = f"{overall:6.1f}" if len(r.run.ok) >= 10 else f"{'-':>6}"
        print(f"{r.label:<20} {r.expected:>6} {len(r.run.ok):>5} {r.lost:>4} "
              f"{r.duplicates:>3} {r.run.rate_limited:>5} {last:>7.2f} {overall_text} "
              f"{steady_text} {ratio} {r.run.cpu_s:>6.2f} {r.run.emulator_cpu_s:>7.2f} "
              f"{r.run.stall_ms:>4.0f}ms")
    print("  msgs = Telegram messages (sendMessage answered 200); last s = first drain call to "
          "the last message's arrival;\n  msg/s = msgs / last s; steady = msg/s between the "
          "10% and 90% marks; ratio = steady / 30; CPU s = this process\n  (PTB, drainer, "
          "SQLite threads) while draining; emu CPU = the emulator process; stall = the "
          "event loop's worst lateness")
    for r in results:
        run = r.run
        flooded = sorted(c["at"] - run.t0 for c in run.calls if c["status"] == 429)
        shown = ", ".join(f"{t:.2f}" for t in flooded[:10]) + (" ..." if len(flooded) > 10
                                                                 else "")
        print(f"\n  {r.label}: " + "; ".join(r.notes))
        print("    sends came back as: "
              + ", ".join(f"{k} {v}" for k, v in run.outcomes.most_common()))
        if flooded:
            print(f"    429s at t = {shown} s")
        print(f"    {run.drains} drain call(s), each ending at (s from start): "
              + "; ".join(run.drain_log))
        print(f"    outbox afterwards: {run.statuses}")
        seconds = r.per_second()
        if len(seconds) > 1:
            print(f"    messages per second: {' '.join(map(str, seconds))}")


def print_verdict(results: Sequence[Result]) -> None:
    print("\ntargets (issue 7):")
    fan = next((r for r in results if r.label.startswith("fan-out")), None)
    if fan:
        _, overall, steady = fan.rates()
        ok = steady / TELEGRAM_LIMIT >= TARGET_RATIO
        print(f"  sustained >= {TARGET_RATIO} of 30/s: {steady / TELEGRAM_LIMIT:.2f} steady, "
              f"{overall / TELEGRAM_LIMIT:.2f} overall: "
              f"{'meets target' if ok else 'BELOW TARGET'}")
    lost = sum(r.lost for r in results)
    print(f"  no lost messages: {lost} lost, {sum(r.duplicates for r in results)} duplicated: "
          f"{'meets target' if not lost else 'LOST MESSAGES'}")
    constant = sum(r.rate_limited_split()[0] for r in results)
    changed = sum(r.rate_limited_split()[1] for r in results)
    print(f"  429s only when limits change unannounced: {constant} under constant limits, "
          f"{changed} after the change: {'meets target' if not constant else 'NOT MET'}")


class LogTally(logging.Handler):
    """Swallows and counts the bot's warnings (PTB logs every 429 with a traceback, the
    drainer every flood hold), so the table is not drowned in them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.name} {record.levelname}"] += 1


async def run_all(emulator: Emulator, args: argparse.Namespace, options: Options,
                  results: list[Result]) -> None:
    config = bench_config(options.max_per_second)
    rate = config.delivery.max_per_second
    pacing = (f"burst {options.pace_burst:g} (--pace-burst experiment)" if options.pace_burst
              else f"burst {rate:g}, as bot/service.py builds it")
    overridden = " (--max-per-second)" if options.max_per_second else " (config default)"
    print(f"pacing: delivery.max_per_second = {rate:g}{overridden}, PTB AIORateLimiter with "
          f"{pacing}; batch_size = {config.delivery.batch_size}\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="newsbot-fanout-") as tmp:
        folder = Path(tmp)
        if args.chats:
            results.append(await run_fanout(emulator, config, options, folder, args.chats))
            print(f"  done: {results[-1].label}", file=sys.stderr, flush=True)
        if args.burst:
            results.append(await run_burst(emulator, config, options, folder, args.burst))
            print(f"  done: {results[-1].label}", file=sys.stderr, flush=True)
        if args.change_chats:
            results.append(await run_change(emulator, config, options, folder,
                                             args.change_chats, args.change_after,
                                             args.change_to))
            print(f"  done: {results[-1].label}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=2000, help="fan-out chats (0: skip)")
    parser.add_argument("--burst", type=int, default=50,
                        help="alerts of the one-chat burst (0: skip)")
    parser.add_argument("--change-chats", type=int, default=600,
                        help="chats of the limits-change run (0: skip)")
    parser.add_argument("--change-after", type=float, default=5.0,
                        help="seconds into that run when the global limit drops")
    parser.add_argument("--change-to", type=float, default=20.0,
                        help="the new global limit (messages/second)")
    parser.add_argument("--max-per-second", type=float, default=None, metavar="R",
                        help="experiment: override delivery.max_per_second")
    parser.add_argument("--pace-burst", type=float, default=None, metavar="N",
                        help="experiment: pace with AIORateLimiter(overall_max_rate=N, "
                        "overall_time_period=N/R), the same rate with a burst of N")
    parser.add_argument("--emulator-backlog", type=int, default=None, metavar="N",
                        help="experiment: the emulator's listen backlog (default 5, "
                        "socketserver's; a burst of new connections overflows it)")
    parser.add_argument("--profile", metavar="PATH",
                        help="write cProfile stats of the fan-out's drains to PATH (event-loop "
                        "thread only; adds overhead)")
    args = parser.parse_args()
    options = Options(args.max_per_second, args.pace_burst, args.profile,
                      args.emulator_backlog)

    # SIGTERM -> SystemExit, so the `finally` that stops the emulator process runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    print(f"fan-out benchmark: one alert to {args.chats} chats; a burst of {args.burst} "
          f"alerts to one chat; one alert to {args.change_chats} chats with the global limit "
          f"dropping to {args.change_to:g}/s after {args.change_after:g} s")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; the Bot API "
          "emulator (strict: 30/s global burst 30, 1/s per chat burst 3, 20/min per group) "
          "runs in another process on the same cores")
    tally = LogTally()
    logging.getLogger().addHandler(tally)
    logging.getLogger().setLevel(logging.WARNING)
    results: list[Result] = []
    errors: list[str] = []
    with emulator_process(options.emulator_backlog) as emulator:
        backlog = (f"listen backlog {options.emulator_backlog} (--emulator-backlog experiment)"
                   if options.emulator_backlog else "listen backlog 5 (socketserver default)")
        print(f"emulator: pid {emulator.process.pid} at {emulator.api_root}, {backlog}",
              flush=True)
        asyncio.run(run_all(emulator, args, options, results))
        errors = emulator.control("internal_errors")
    print()
    print_table(results)
    if tally.counts:
        print("\n  bot log (swallowed): "
              + ", ".join(f"{k} {v}" for k, v in sorted(tally.counts.items())))
    if errors:
        print(f"  emulator internal errors: {len(errors)}; first: {errors[0][:300]}")
    print_verdict(results)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")
    return 0 if all(r.lost == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
