"""Poll-path benchmark (issue 3): the product's real `run_cycle` against N synthetic feeds.

    .venv/bin/python bench/poll.py [--feeds 1000] [--items N] [--cycles 3] [--changed 0.05]
                                   [--concurrency 20] [--no-baseline] [--profile PREFIX]
                                   [--stall-stacks MS]

What it does, in one run:
1. starts `tests.fakes.feed_server --synthetic N` in ANOTHER PROCESS (20-50 items per feed,
   ~330-character HTML summaries, RSS with ETag and Last-Modified, gzip on request);
2. creates a fresh SQLite database in a temporary folder, migrates it, stores the feeds,
   and subscribes one chat to every topic of the default config (so matching, story grouping
   and the outbox run as in production);
3. runs the product's `run_cycle` once on a cold database (every feed answers 200), then
   `--cycles` steady cycles: before each, 5% of the feeds get new items through the server's
   control endpoint, so ~95% answer 304. `now` advances past `max_interval` between cycles,
   so every feed is due and the real scheduling query (`due_feeds`) picks it;
4. "fetch only" passes: the bot's `Fetcher` alone, with the stored validators (all 304),
   at the bench's pool size and at 10 connections, to separate the HTTP client's share
   from the rest; and 3 s of an idle loop, the stall column's noise floor on this machine;
5. a naive baseline in a child process: sequential `feedparser.parse(url)` on every feed,
   without conditional GET, as most bots do (its first and steady cycles are the same).

Per row: wall seconds, CPU seconds of the measuring process (all its threads: the event
loop, parse worker threads, aiosqlite threads), requests and body bytes from the server's
own counters, the server process's CPU (it shares this machine's cores), the largest
event-loop stall (a 10 ms ticker's worst lateness) and peak RSS (ru_maxrss, a high-water
mark for the whole process). Figures, not pass/fail timings. Where the time goes:
each row splits its CPU into the event-loop thread, the database threads and the rest
(the parse thread), and counts SQL statements; `--profile PREFIX` writes cProfile stats
(CPU time) of the first and last steady cycle (loop thread); `--stall-stacks MS` prints,
per row, where the event loop was whenever it was over MS late (stack samples taken by a
watchdog thread, bench/stalls.py) and every garbage collection over MS/2.

The server process is always stopped, also on error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `bot` imports from here

from bench.stalls import StallSampler  # noqa: E402
from tests.support.processes import cpu_seconds, stat_cpu_seconds, url_child  # noqa: E402

# Everything in this benchmark is on one host (127.0.0.1), so the product's politeness
# limit per host (default 2) would serialise the whole cycle: per_host is raised to the
# global limit (per_host = max_concurrency = --concurrency), and the output says so. The
# default is the product's max_concurrency. The "fetch only" rows show the HTTP client's
# share at that pool size and at 10 connections.
DEFAULT_CONCURRENCY = 20
TARGETS = {"wall": 2.0, "cpu": 1.0, "cpu_ratio": 10.0, "rss_mb": 150.0, "stall_ms": 100.0}


# --------------------------------------------------------------------------- feed server


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str

    def control(self, path: str, method: str = "GET") -> dict[str, Any]:
        request = urllib.request.Request(self.base_url + path, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data

    def stats(self) -> dict[str, Any]:
        return self.control("/_control/stats")

    def publish(self, feed: int, count: int) -> None:
        self.control(f"/_control/publish?feed={feed}&count={count}", method="POST")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)


@contextmanager
def feed_server(feeds: int, items: int | None, seed: int) -> Iterator[Server]:
    cmd = [sys.executable, "-m", "tests.fakes.feed_server", "--synthetic", str(feeds),
           "--port", "0", "--seed", str(seed), "--log-limit", "1000"]
    if items is not None:
        cmd += ["--items", str(items)]
    with url_child(cmd, "feed server", timeout=120) as (process, url):
        yield Server(process, url)


# --------------------------------------------------------------------------- measuring


@dataclass
class Row:
    label: str
    wall: float
    cpu: float
    server_cpu: float
    requests: int
    bytes_sent: int
    statuses: str
    stall_ms: float | None
    rss_mb: float
    note: str = ""
    cpu_loop: float | None = None  # of `cpu`: the event-loop thread
    cpu_db: float | None = None  # of `cpu`: database driver threads (aiosqlite)
    statements: int = 0  # SQL statements the bot executed (an executemany counts once)


SQL_STATEMENTS = [0]


def _count_statement(*_args: object) -> None:
    SQL_STATEMENTS[0] += 1


def thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each live thread of this process, by thread id (Linux /proc)."""
    names = {t.native_id: t.name for t in threading.enumerate()}  # Python's names, not comm
    out: dict[int, tuple[str, float]] = {}
    for task in Path("/proc/self/task").iterdir():
        cpu = stat_cpu_seconds(task / "stat")
        if not math.isnan(cpu):  # NaN: the thread ended meanwhile
            out[int(task.name)] = (names.get(int(task.name), "?"), cpu)
    return out


def split_cpu(before: dict[int, tuple[str, float]],
              after: dict[int, tuple[str, float]]) -> tuple[float, float]:
    """(event-loop thread, database threads) CPU between two `thread_cpu` snapshots. The
    rest of a row's CPU is the parse thread (it ends with its cycle, so it is not listed)
    and other short-lived threads (DNS lookups)."""
    main = os.getpid()
    loop = after[main][1] - before.get(main, ("", 0.0))[1]
    db = sum(cpu - before.get(tid, ("", 0.0))[1] for tid, (name, cpu) in after.items()
             if tid != main and "_connection_worker" in name)  # aiosqlite's threads
    return loop, db


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _ticker(worst: list[float], sampler: StallSampler | None,
                  period: float = 0.010) -> None:
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(period)
        worst[0] = max(worst[0], loop.time() - start - period)
        if sampler is not None:
            sampler.beat()


# --stall-stacks MS: sample the loop thread's stack whenever it is that late
STALL_STACKS_MS: list[float | None] = [None]


async def measure(label: str, server: Server, work: Callable[[], Awaitable[str]]) -> Row:
    """Run `work` (which returns a note) with the stall ticker beside it."""
    before = server.stats()
    server_cpu0 = server.cpu_seconds()
    worst = [0.0]
    sampler = StallSampler(STALL_STACKS_MS[0]) if STALL_STACKS_MS[0] is not None else None
    ticker = asyncio.create_task(_ticker(worst, sampler))
    if sampler is not None:
        sampler.start()
    await asyncio.sleep(0)  # let the ticker take its first timestamp
    threads0 = thread_cpu()
    statements0 = SQL_STATEMENTS[0]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        note = await work()
    finally:
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        ticker.cancel()
        if sampler is not None:
            sampler.stop()
            print(f"  {label}: where the loop stalled over {STALL_STACKS_MS[0]:.0f} ms\n"
                  f"{sampler.report()}", file=sys.stderr)
    cpu_loop, cpu_db = split_cpu(threads0, thread_cpu())
    server_cpu = server.cpu_seconds() - server_cpu0
    after = server.stats()
    print(f"  {label}: {wall:.1f} s", file=sys.stderr, flush=True)  # progress
    return Row(label, wall, cpu, server_cpu, after["requests"] - before["requests"],
               after["bytes_sent"] - before["bytes_sent"],
               _status_delta(before["by_status"], after["by_status"]), worst[0] * 1000,
               peak_rss_mb(), note, cpu_loop, cpu_db, SQL_STATEMENTS[0] - statements0)


def _status_delta(before: dict[str, int], after: dict[str, int]) -> str:
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
    return " ".join(f"{k}:{v}" for k, v in sorted(delta.items())) or "-"


class LogTally(logging.Handler):
    """Counts the bot's log records by level and keeps the first few problems (one line
    each), so a failing cycle shows why without drowning the table in tracebacks."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = {}
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] = self.counts.get(record.levelname, 0) + 1
        if len(self.first) < 3:
            self.first.append(f"{record.levelname} {record.name}: "
                              f"{record.getMessage().splitlines()[0][:200]}")


# --------------------------------------------------------------------------- the product


def bench_config_text(urls: list[str], concurrency: int) -> str:
    """Bench polling settings + one [[feeds]] per URL + the default config's topics."""
    default = (ROOT / "config" / "newsbot.toml").read_text(encoding="utf-8")
    topics = default[default.index("[topics."):]
    feeds = "".join(f'[[feeds]]\nurl = "{u}"\nname = "Synthetic {i}"\n\n'
                    for i, u in enumerate(urls))
    return f"""[polling]
interval = "30m"
min_interval = "1m"
max_interval = "1h"        # so that advancing `now` by 2h makes every feed due
max_concurrency = {concurrency}
per_host = {concurrency}
max_feeds_per_cycle = {max(1000, len(urls))}

{feeds}{topics}"""


async def run_bot(server: Server, args: argparse.Namespace, rows: list[Row]) -> None:
    from sqlalchemy import event

    from bot import config as config_module
    from bot.feeds.fetch import Fetcher, FetchLimits, NotModified
    from bot.ops.heap import freeze_survivors, settle_heap
    from bot.pipeline import CycleReport, PipelineDeps, run_cycle
    from bot.store import chats as chat_store
    from bot.store.engine import create_engine, migrate
    from bot.store.feeds import feed_states, sync_feeds
    from bot.stories import StoryGrouper

    rss_imports = peak_rss_mb()
    urls = [f"{server.base_url}/feeds/{i}.xml" for i in range(args.feeds)]
    cfg = config_module.loads(bench_config_text(urls, args.concurrency))
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
        engine = create_engine(f"sqlite:///{tmp}/bench.db")
        event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
        try:
            await migrate(engine)
            now = datetime.now(UTC).replace(microsecond=0)
            await sync_feeds(engine, [(f.url, f.name) for f in cfg.feeds])
            await chat_store.ensure_chat(engine, 1, "private", "bench", now)
            await chat_store.subscribe(engine, 1, list(cfg.topic_slugs), None, now)
            polling = cfg.polling
            limits = FetchLimits(timeout=polling.timeout, max_body_bytes=polling.max_body_bytes,
                                 max_concurrency=polling.max_concurrency,
                                 per_host=polling.per_host)
            async with Fetcher(limits) as fetcher:
                deps = PipelineDeps(engine, fetcher, cfg, StoryGrouper())
                settle_heap()  # as Service.open does when start-up is done
                print(f"bot process RSS before the first cycle: {rss_imports:.0f} MB after "
                      f"importing the bot, {peak_rss_mb():.0f} MB after config, migration and "
                      "feed rows\n", flush=True)

                def cycle(at: datetime) -> Callable[[], Awaitable[str]]:
                    async def work() -> str:
                        report: CycleReport = await run_cycle(deps, at)
                        freeze_survivors()  # as Service.poll does after each cycle
                        if len(report.results) != args.feeds:
                            raise RuntimeError(f"only {len(report.results)} feeds were due")
                        return (f"{report.count('ok')} ok, {report.count('not-modified')} "
                                f"not modified, {report.count('failed')} failed, "
                                f"{report.items_new} new items, "
                                f"{report.alerts_queued} alerts")
                    return work

                rows.append(await measure("first cycle", server, profiled(
                    cycle(now), f"{args.profile}.first" if args.profile else None)))
                changed = max(1, round(args.feeds * args.changed))
                for n in range(1, args.cycles + 1):
                    for feed in rng.sample(range(args.feeds), changed):
                        server.publish(feed, rng.randint(1, 3))
                    last = args.profile and n == args.cycles
                    rows.append(await measure(f"steady cycle {n}", server, profiled(
                        cycle(now + timedelta(hours=2 * n)),
                        f"{args.profile}.steady" if last else None)))

                # The HTTP client's share: the same 1,000 conditional GETs (all 304 now)
                # through the bot's Fetcher alone, at the bench's pool size and a small one.
                states = await feed_states(engine)

                def fetch_only(client: Fetcher) -> Callable[[], Awaitable[str]]:
                    async def work() -> str:
                        outcomes = await asyncio.gather(*(
                            client.fetch(s.poll_url, s.etag, s.last_modified) for s in states))
                        return (f"{sum(isinstance(o, NotModified) for o in outcomes)} not "
                                f"modified; the Fetcher alone ({client.limits.max_concurrency} "
                                "connections), no parse, no database")
                    return work

                rows.append(await measure(f"fetch only, {args.concurrency} conn", server,
                                          fetch_only(fetcher)))
            small = replace(limits, max_concurrency=10, per_host=10)
            async with Fetcher(small) as fetcher10:
                rows.append(await measure("fetch only, 10 conn", server, fetch_only(fetcher10)))
            rows.append(await measure("idle loop, 3 s", server, idle))
        finally:
            await engine.dispose()


async def idle() -> str:
    await asyncio.sleep(3)
    return "no work: the stall column is this machine's noise floor"


def profiled(work: Callable[[], Awaitable[str]],
             path: str | None) -> Callable[[], Awaitable[str]]:
    """`work` under cProfile (the event-loop thread only) when a path is given."""
    if not path:
        return work

    async def run() -> str:
        import cProfile

        # CPU time of this thread, not wall time: waiting in epoll or for a driver thread
        # is not work done here.
        profile = cProfile.Profile(timer=time.thread_time)
        profile.enable()
        try:
            return await work()
        finally:
            profile.disable()
            profile.dump_stats(path)
            print(f"  profile written to {path}", file=sys.stderr)
    return run


# --------------------------------------------------------------------------- naive baseline


def naive_child(base_url: str, feeds: int) -> None:
    """In a child process: what most bots do, one feed after the other, no validators."""
    import feedparser

    cpu0, wall0 = time.process_time(), time.perf_counter()
    entries = 0
    for i in range(feeds):
        entries += len(feedparser.parse(f"{base_url}/feeds/{i}.xml").entries)
    print(json.dumps({"wall": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0,
                      "rss_mb": peak_rss_mb(), "entries": entries}))


def run_naive(server: Server, feeds: int) -> Row:
    before = server.stats()
    server_cpu0 = server.cpu_seconds()
    out = subprocess.run([sys.executable, __file__, "--naive-child", server.base_url,
                          "--feeds", str(feeds)], check=True, capture_output=True, text=True,
                         timeout=240)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    after = server.stats()
    return Row("naive baseline", result["wall"], result["cpu"],
               server.cpu_seconds() - server_cpu0, after["requests"] - before["requests"],
               after["bytes_sent"] - before["bytes_sent"],
               _status_delta(before["by_status"], after["by_status"]), None, result["rss_mb"],
               f"{result['entries']} entries parsed; sequential feedparser.parse(url), "
               "separate process")


# --------------------------------------------------------------------------- report


def print_table(rows: list[Row]) -> None:
    head = (f"{'':<20} {'wall s':>7} {'CPU s':>6} {'loop':>5} {'db':>5} {'rest':>5} "
            f"{'CPU ms/req':>10} {'SQL':>5} {'srv CPU':>7} {'req':>5} "
            f"{'req/s':>6} {'MB sent':>7} {'statuses':<14} {'stall ms':>8} {'peak RSS':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        stall = f"{r.stall_ms:8.1f}" if r.stall_ms is not None else f"{'n/a':>8}"
        per_request = f"{1000 * r.cpu / r.requests:10.2f}" if r.requests else f"{'-':>10}"
        split = (f"{r.cpu_loop:5.2f} {r.cpu_db:5.2f} {r.cpu - r.cpu_loop - r.cpu_db:5.2f}"
                 if r.cpu_loop is not None and r.cpu_db is not None else f"{'':>17}")
        print(f"{r.label:<20} {r.wall:7.2f} {r.cpu:6.2f} {split} {per_request} "
              f"{r.statements:5d} "
              f"{r.server_cpu:7.2f} {r.requests:5d} "
              f"{r.requests / r.wall if r.wall else 0:6.0f} {r.bytes_sent / 1e6:7.2f} "
              f"{r.statuses:<14} {stall} {r.rss_mb:6.0f}MB")
    print("  (CPU split: loop = event-loop thread; db = database driver threads; rest = the "
          "parse thread and other short-lived threads; SQL = statements executed)")
    for r in rows:
        if r.note:
            print(f"  {r.label}: {r.note}")


def print_verdict(rows: list[Row]) -> None:
    naive = next(r for r in rows if r.label == "naive baseline")
    steady = [r for r in rows if r.label.startswith("steady")]
    first = rows[0]
    worst = max(steady, key=lambda r: r.wall)
    med_wall = sorted(r.wall for r in steady)[len(steady) // 2]
    med_cpu = sorted(r.cpu for r in steady)[len(steady) // 2]
    bot_rss = max(r.rss_mb for r in [first, *steady])
    stall = max(r.stall_ms or 0.0 for r in [first, *steady])

    def verdict(ok: bool) -> str:
        return "meets target" if ok else "ABOVE TARGET"

    print()
    print("ratios, naive baseline / bot:")
    print(f"  steady (median): wall {naive.wall / med_wall:5.1f}x   CPU {naive.cpu / med_cpu:5.1f}x"
          f"   bytes {naive.bytes_sent / max(1, worst.bytes_sent):5.1f}x")
    print(f"  first cycle:     wall {naive.wall / first.wall:5.1f}x   "
          f"CPU {naive.cpu / first.cpu:5.1f}x")
    print("targets (issue 3):")
    print(f"  steady wall  median {med_wall:.2f} s, worst {worst.wall:.2f} s "
          f"(< {TARGETS['wall']} s): {verdict(worst.wall < TARGETS['wall'])}")
    print(f"  steady CPU   median {med_cpu:.2f} s (< {TARGETS['cpu']} s): "
          f"{verdict(med_cpu < TARGETS['cpu'])}")
    print(f"  CPU vs naive {naive.cpu / med_cpu:.1f}x (>= {TARGETS['cpu_ratio']}x): "
          f"{verdict(naive.cpu / med_cpu >= TARGETS['cpu_ratio'])}")
    print(f"  peak RSS     {bot_rss:.0f} MB (< {TARGETS['rss_mb']:.0f} MB): "
          f"{verdict(bot_rss < TARGETS['rss_mb'])}")
    print(f"  loop stall   max {stall:.0f} ms over first and steady cycles "
          f"(< {TARGETS['stall_ms']:.0f} ms): {verdict(stall < TARGETS['stall_ms'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=None,
                        help="items per feed (default: 20-50, varying per feed)")
    parser.add_argument("--cycles", type=int, default=3, help="steady cycles")
    parser.add_argument("--changed", type=float, default=0.05,
                        help="share of feeds with new items before each steady cycle")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="max_concurrency and per_host of the bench config (all feeds are "
                        "on one host)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="write cProfile stats of the first and last steady cycle to "
                        "PREFIX.first / PREFIX.steady (the loop thread only; adds overhead)")
    parser.add_argument("--stall-stacks", metavar="MS", type=float,
                        help="print where the event loop was whenever it stalled over MS "
                        "milliseconds (stack samples, per measured run; to stderr)")
    parser.add_argument("--naive-child", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    STALL_STACKS_MS[0] = args.stall_stacks
    if args.naive_child:
        naive_child(args.naive_child, args.feeds)
        return 0

    # SIGTERM -> SystemExit, so the `finally` that stops the server process runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from bot.ops.gil import favour_the_event_loop
    from bot.ops.heap import limit_malloc_arenas

    limit_malloc_arenas()  # as `newsbot` does before any thread starts
    favour_the_event_loop()  # as `newsbot` does
    started = time.perf_counter()
    print(f"poll benchmark: {args.feeds} synthetic feeds "
          f"({args.items or '20-50'} items each), 1 first + {args.cycles} steady cycles, "
          f"{args.changed:.0%} of feeds get 1-3 new items before each steady cycle")
    print(f"bench config: per_host = {args.concurrency}, max_concurrency = {args.concurrency} "
          "(every feed is on 127.0.0.1: the product's per_host = 2 would serialise them, so "
          "per_host is raised to the global limit), fresh SQLite in a temp dir, `now` advanced "
          "2 h per cycle so every feed is due (the real due_feeds query picks them)")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
          f"{os.getloadavg()[0]:.1f} at start; the feed server runs in another process on the "
          "same cores")
    tally = LogTally()
    logging.getLogger().addHandler(tally)
    logging.getLogger().setLevel(logging.WARNING)
    rows: list[Row] = []
    with feed_server(args.feeds, args.items, args.seed) as server:
        print(f"feed server: pid {server.process.pid} at {server.base_url} "
              f"(ready after {time.perf_counter() - started:.1f} s)", flush=True)
        asyncio.run(run_bot(server, args, rows))
        if not args.no_baseline:
            rows.append(run_naive(server, args.feeds))
    print_table(rows)
    if tally.counts:
        print(f"  bot log: {tally.counts}; first: " + " | ".join(tally.first))
    if not args.no_baseline:
        print_verdict(rows)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s, load average "
          f"{os.getloadavg()[0]:.1f} at the end (other work on this machine inflates wall "
          "times and, less, CPU times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
