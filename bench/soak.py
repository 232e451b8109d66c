"""Soak test (issue 9): `newsbot run` for 10 minutes against 200 feeds and 500 chats.

    .venv/bin/python bench/soak.py [--minutes 10] [--keep]

Everything runs as a user would run it, each in its own process, all on 127.0.0.1:
- the feed server: `python -m tests.fakes.feed_server --synthetic 200 --items 30 --port 0`;
- the Bot API emulator in strict mode: `python -m tests.fakes.telegram_api --rate-limits`
  (30 messages/s global, 1/s per chat with a burst of 3);
- the bot: `python -m bot run --config <tmp>/newsbot.toml` with TELEGRAM_BOT_TOKEN,
  TELEGRAM_API_URL, DATABASE_URL=sqlite:///<tmp>/soak.db and NEWSBOT_HTTP_LISTEN.

Setup, before the bot starts: 500 users write "hello" to the bot in the emulator (a plain
message, not a command, so the bot has nothing to answer but the private chats exist), and
the 500 chats are written into the database with the store's own functions, all subscribed
to topic `trade`, the first 100 also to `steel`.

Topics. The synthetic headlines are "<place> <subject> <verb> <object> as <place> <subject>
<verb> <object>", where ~4% of objects are a trade-war phrase; they cannot be chosen, but
they are deterministic (`synthetic_entry(path, number)`), so this script knows every feed's
next headline before it publishes it. `trade` = title:(one of the 7 trade phrases) and
`steel` = title:steelmakers; the oracle for both is a plain regex over the title, checked
against the bot's own matching (topic_matches in the database) at the end.

Publishing. Every `--tick` seconds (2.5) one new item goes to one random feed whose NEXT
headline has the class wanted now: a `trade` item every `--trade-every` s (20), a
`steel`-only item every `--steel-every` s (60), otherwise an item matching no topic.
Offered load (upper bound, as if every matching item were a new story) is printed against
the 30 messages/s budget.

Stories. The bot sends one alert per (chat, story): an item that joins a story a chat was
already alerted about becomes an edit of that alert ("Also reported by"), not a message. The
synthetic headlines share a small vocabulary, so the bot groups many of them. Expected
deliveries are therefore counted twice: per item (what the issue asks: matching items x
subscribed chats) and per (chat, story) slot (the item that opened the slot must arrive,
using the story the bot recorded for each item in `items.story_key`). A (chat, item) pair
is delivered when a sendMessage to that chat answered 200 and its text (an alert, a
batched list, or a follow-up reply) contains the item's title.

Every 10 s: the bot's RSS (/proc), the database size (+ -wal, -shm), `/metrics` queue.
At the end: publishing stops, the script waits until every published item is stored (the
adaptive polling interval can reach 8x the configured 1m) and the outbox is empty, then
SIGTERMs the bot (it must exit 0) and prints the figures. Every process it started is
stopped on exit, error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `bot` and `tests` import

from bot.store import chats as chat_store  # noqa: E402
from bot.store.engine import create_engine, migrate  # noqa: E402
from tests.fakes.feed_server import synthetic_entry  # noqa: E402
from tests.support.processes import start_url_child, stop  # noqa: E402

TOKEN = "123456789:AAEmulatorTestToken_0123456789abcdefg"
CHAT_BASE = 10_000
TELEGRAM_LIMIT = 30.0
TRADE_PHRASES = ("tariffs", "rare earths", "export controls", "student visas", "trade war",
                 "chip export curbs", "retaliatory duties")
TRADE_QUERY = "title:(" + " OR ".join(
    f'"{p}"' if " " in p else p for p in TRADE_PHRASES) + ")"
STEEL_QUERY = "title:steelmakers"
_TRADE_RE = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in TRADE_PHRASES) + r")\b", re.I)
_STEEL_RE = re.compile(r"\bsteelmakers\b", re.I)
_GUID_RE = re.compile(r"^urn:newsbot-synthetic:(/feeds/(\d+)\.xml):(\d+)$")


def oracle(title: str) -> frozenset[str]:
    """The topics a headline must match (independent of the product's matcher)."""
    found = set()
    if _TRADE_RE.search(title):
        found.add("trade")
    if _STEEL_RE.search(title):
        found.add("steel")
    return frozenset(found)


def item_class(topics: frozenset[str]) -> str:
    return "trade" if "trade" in topics else "steel" if "steel" in topics else "none"


# --------------------------------------------------------------------------- processes


class Stopped(Exception):
    """SIGTERM/SIGINT reached this script: clean up and leave."""


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 15.0) -> int | None:
        return stop(self.process, timeout)


def start_server(name: str, args: Sequence[str], workdir: Path) -> tuple[Proc, str]:
    """Start a fake server that prints its base URL on its first stdout line."""
    log = workdir / f"{name}.log"
    with log.open("wb") as err:
        try:
            process, url = start_url_child([sys.executable, "-m", *args], name, timeout=120,
                                           stderr=err)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; {log.read_text()[-2000:]}") from None
    return Proc(name, process, log), url


def code_version() -> str:
    """The commit under test and how many files of the work tree differ (read-only git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "bot"], cwd=ROOT,
                                 text=True, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    n = len([line for line in changed.splitlines() if line.strip()])
    return f"{head}" + (f" + {n} uncommitted change(s) under bot/" if n else "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(url: str, data: bytes | None = None, *, timeout: float = 60.0,
         method: str | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Emulator:
    def __init__(self, root: str) -> None:
        self.root = root

    def control(self, action: str, timeout: float = 120.0, **arguments: Any) -> Any:
        status, body = http(f"{self.root}/_control/{action}", json.dumps(arguments).encode(),
                            timeout=timeout)
        answer = json.loads(body)
        if status != 200 or not answer.get("ok"):
            raise RuntimeError(f"emulator control {action}: {status} {answer}")
        return answer["result"]


class FeedControl:
    def __init__(self, root: str) -> None:
        self.root = root

    def publish(self, feed: int) -> list[str]:
        status, body = http(f"{self.root}/_control/publish?feed={feed}&count=1", b"",
                            method="POST")
        if status != 200:
            raise RuntimeError(f"publish to feed {feed}: {status} {body[:200]!r}")
        return list(json.loads(body)["published"])

    def stats(self) -> dict[str, Any]:
        status, body = http(f"{self.root}/_control/stats")
        return dict(json.loads(body)) if status == 200 else {}


# --------------------------------------------------------------------------- setup


async def prepare_database(url: str, chats: int, steel_chats: int) -> None:
    """The chats and their subscriptions, written before the bot starts (as
    tests/integration/test_crash_recovery.py does)."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        now = datetime.now(UTC)
        for n in range(chats):
            chat_id = CHAT_BASE + n
            await chat_store.ensure_chat(engine, chat_id, "private", f"user {n}", now)
            topics = ["trade", "steel"] if n < steel_chats else ["trade"]
            await chat_store.subscribe(engine, chat_id, topics, None, now)
    finally:
        await engine.dispose()


def write_config(path: Path, feed_root: str, feeds: int, max_per_second: float) -> None:
    lines = [
        "[polling]", 'interval = "1m"', 'min_interval = "30s"', "",
        "[delivery]", f"max_per_second = {max_per_second:g}", "",
        "[topics.trade]", 'name = "Trade war"', f"query = '{TRADE_QUERY}'", "",
        "[topics.steel]", 'name = "Steel"', f"query = '{STEEL_QUERY}'", "",
    ]
    for i in range(feeds):
        lines += ["[[feeds]]", f'url = "{feed_root}/feeds/{i}.xml"',
                  f'name = "Synthetic news {i}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def check_oracle(config: Path, feeds: int, ahead: int) -> tuple[int, int]:
    """(headlines checked, disagreements) between the regex oracle and the bot's matcher,
    over the next `ahead` headlines of every feed."""
    from bot.config import load
    from bot.summary import summarize

    matcher = load(config).matcher
    checked = bad = 0
    now = datetime.now(UTC)
    for i in range(feeds):
        for number in range(30, 30 + ahead):
            e = synthetic_entry(f"/feeds/{i}.xml", number, now)
            got = frozenset(m.slug for m in matcher.match(
                e.title, summarize(e.summary, "", max_chars=300), 1.0))
            checked += 1
            if got != oracle(e.title):
                bad += 1
                if bad <= 5:
                    print(f"  oracle disagrees: {e.title!r}: bot {sorted(got)}, "
                          f"oracle {sorted(oracle(e.title))}")
    return checked, bad


# --------------------------------------------------------------------------- sampling


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM in KiB and utime+stime in clock ticks, from /proc."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out["cpu_ticks"] = int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        pass
    return out


def tcp_counters() -> dict[str, int]:
    """Host-wide TcpExt counters (all processes of this network namespace)."""
    try:
        lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()
                 if line.startswith("TcpExt:")]
        return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:], strict=True)}
    except (OSError, IndexError, ValueError):
        return {}


def db_sizes(db: Path) -> tuple[int, int, int]:
    def size(p: Path) -> int:
        try:
            return p.stat().st_size
        except OSError:
            return 0
    return size(db), size(Path(f"{db}-wal")), size(Path(f"{db}-shm"))


_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def scrape(url: str) -> dict[str, float]:
    try:
        status, body = http(url, timeout=10)
    except (OSError, urllib.error.URLError):
        return {}
    if status != 200:
        return {}
    values: dict[str, float] = {}
    for line in body.decode().splitlines():
        m = _METRIC_LINE.match(line)
        if m and not line.startswith("#"):
            with contextlib.suppress(ValueError):
                values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return values


@dataclass
class Sample:
    t: float  # seconds since the bot started
    phase: str
    rss_kib: int
    hwm_kib: int
    cpu_s: float
    threads: int
    db: int
    wal: int
    shm: int
    queue: float
    sent: float
    published: int


class Sampler(threading.Thread):
    def __init__(self, pid: int, db: Path, metrics_url: str, every: float,
                 soak: Soak) -> None:
        super().__init__(daemon=True, name="sampler")
        self.pid, self.db, self.metrics_url, self.every = pid, db, metrics_url, every
        self.soak = soak
        self.samples: list[Sample] = []
        self.stop_event = threading.Event()
        self.t0 = time.monotonic()

    def take(self) -> Sample:
        st = proc_status(self.pid)
        metrics = scrape(self.metrics_url)
        db, wal, shm = db_sizes(self.db)
        sample = Sample(
            t=time.monotonic() - self.t0, phase=self.soak.phase,
            rss_kib=st.get("VmRSS", 0), hwm_kib=st.get("VmHWM", 0),
            cpu_s=st.get("cpu_ticks", 0) / os.sysconf("SC_CLK_TCK"),
            threads=st.get("Threads", 0), db=db, wal=wal, shm=shm,
            queue=metrics.get("newsbot_outbox_queue", math.nan),
            sent=metrics.get('newsbot_deliveries_total{outcome="sent"}', math.nan),
            published=len(self.soak.published))
        self.samples.append(sample)
        print(f"  [{sample.t:6.0f}s {sample.phase:8}] rss {sample.rss_kib / 1024:6.1f} MiB "
              f"(peak {sample.hwm_kib / 1024:6.1f})  cpu {sample.cpu_s:6.1f}s  "
              f"db {sample.db / 1e6:6.2f} MB + wal {sample.wal / 1e6:5.2f} MB  "
              f"queue {sample.queue:5.0f}  sent {sample.sent:6.0f}  "
              f"published {sample.published}", flush=True)
        return sample

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            if self.soak.bot_alive():
                self.take()


class RetryWatcher(threading.Thread):
    """Why rows were retried: the outbox keeps the reason in `last_error` only until the
    row is sent (and the drainer logs only 429s), so look at pending rows every second."""

    def __init__(self, soak: Soak, every: float = 1.0) -> None:
        super().__init__(daemon=True, name="retry-watcher")
        self.soak, self.every = soak, every
        self.reasons: dict[tuple[int, int], str] = {}  # (row id, attempts) -> reason
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            if not self.soak.bot_alive():
                continue
            with contextlib.suppress(sqlite3.Error):
                for row_id, attempts, error in self.soak.query(
                        "SELECT id, attempts, last_error FROM deliveries WHERE status = "
                        "'pending' AND last_error IS NOT NULL"):
                    self.reasons[(int(row_id), int(attempts))] = str(error)

    def summary(self) -> list[str]:
        counts = Counter(re.sub(r"\d+", "N", reason)[:140] for reason in self.reasons.values())
        return [f"{n:6} {reason}" for reason, n in counts.most_common(8)]


# --------------------------------------------------------------------------- the soak


@dataclass
class Published:
    guid: str
    feed: int
    title: str
    topics: frozenset[str]
    posted_at: float  # wall clock just before the publish request


@dataclass
class Soak:
    args: argparse.Namespace
    workdir: Path
    procs: list[Proc] = field(default_factory=list)
    bot: Proc | None = None
    phase: str = "setup"
    published: list[Published] = field(default_factory=list)
    shortages: Counter[str] = field(default_factory=Counter)

    def bot_alive(self) -> bool:
        return self.bot is not None and self.bot.process.poll() is None

    @property
    def db(self) -> Path:
        return self.workdir / "soak.db"

    def db_ro(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self.db_ro()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()


def wait_for(what: str, check: Any, timeout: float, every: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def pick_feed(rng: random.Random, nxt: dict[int, int], wanted: str) -> tuple[int, str] | None:
    """A random feed whose next synthetic headline has the wanted class."""
    feeds = list(nxt)
    rng.shuffle(feeds)
    for i in feeds:
        title = synthetic_entry(f"/feeds/{i}.xml", nxt[i], datetime.now(UTC)).title
        if item_class(oracle(title)) == wanted:
            return i, title
    return None


def publish_loop(soak: Soak, feeds: FeedControl, rng: random.Random, seconds: float) -> None:
    args = soak.args
    nxt = dict.fromkeys(range(args.feeds), args.items)
    start = time.monotonic()
    last = {"trade": -math.inf, "steel": -math.inf}
    tick = 0
    while True:
        due = start + tick * args.tick
        if due - start >= seconds:
            break
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        tick += 1
        now = time.monotonic() - start
        wanted = "none"
        if now - last["trade"] >= args.trade_every - 1e-6:
            wanted = "trade"
        elif now - last["steel"] >= args.steel_every - 1e-6:
            wanted = "steel"
        choice = pick_feed(rng, nxt, wanted)
        if choice is None:
            soak.shortages[wanted] += 1
            continue  # no feed's next headline has that class now: try at the next tick
        feed, title = choice
        posted = time.time()
        guids = feeds.publish(feed)
        m = _GUID_RE.match(guids[0]) if len(guids) == 1 else None
        if m is None or int(m.group(2)) != feed:
            raise RuntimeError(f"unexpected publish answer {guids}")
        number = int(m.group(3))
        actual = synthetic_entry(m.group(1), number, datetime.now(UTC)).title
        if number != nxt[feed]:
            print(f"  note: feed {feed} published #{number}, expected #{nxt[feed]}")
        nxt[feed] = number + 1
        soak.published.append(Published(guids[0], feed, actual, oracle(actual), posted))
        if actual != title:
            print(f"  note: feed {feed} published {actual!r}, predicted {title!r}")
        if wanted != "none":
            last[wanted] = now


# --------------------------------------------------------------------------- analysis


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def parse_db_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@dataclass
class Accounting:
    lines: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lat_pub: list[float] = field(default_factory=list)
    lat_poll: list[float] = field(default_factory=list)
    lat_send: list[float] = field(default_factory=list)
    slowest: list[tuple[float, str, int]] = field(default_factory=list)

    def add(self, label: str, value: object) -> None:
        self.lines.append((label, str(value)))


def analyse(soak: Soak, emulator: Emulator, chats: int, steel_chats: int) -> Accounting:
    acc = Accounting()
    trade_subs = {CHAT_BASE + n for n in range(chats)}
    steel_subs = {CHAT_BASE + n for n in range(steel_chats)}

    def subscribers(topics: frozenset[str]) -> set[int]:
        out: set[int] = set()
        if "trade" in topics:
            out |= trade_subs
        if "steel" in topics:
            out |= steel_subs
        return out

    # ---- what the bot stored for each published item -----------------------------------
    by_guid = {p.guid: p for p in soak.published}
    rows: dict[str, tuple[int, str, str, datetime | None, datetime]] = {}
    guids = list(by_guid)
    for start in range(0, len(guids), 500):
        chunk = guids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for item_id, guid, key, story, published, seen in soak.query(
                f"SELECT id, guid, key, story_key, published_at, first_seen_at FROM items "
                f"WHERE guid IN ({marks})", chunk):
            seen_at = parse_db_time(seen)
            assert seen_at is not None
            rows[guid] = (item_id, key, story, parse_db_time(published), seen_at)
    missing = [g for g in guids if g not in rows]
    if missing:
        acc.problems.append(f"{len(missing)} published items never stored, e.g. {missing[:3]}")
    matched: dict[int, set[str]] = defaultdict(set)
    for item_id, topic in soak.query("SELECT item_id, topic FROM topic_matches"):
        matched[item_id].add(topic)
    disagree = [(p.title, sorted(p.topics), sorted(matched.get(rows[p.guid][0], set())))
                for p in soak.published if p.guid in rows
                and set(p.topics) != matched.get(rows[p.guid][0], set())]
    if disagree:
        acc.problems.append(f"{len(disagree)} published items matched differently by the bot "
                            f"than by the oracle, e.g. {disagree[:3]}")

    matching = sorted((p for p in soak.published if p.topics and p.guid in rows),
                      key=lambda p: rows[p.guid][0])  # the bot's insertion order
    expected_items = sum(len(subscribers(p.topics)) for p in soak.published if p.topics)

    # ---- (chat, story) slots: the first item of a story for a chat opens it -------------
    slot_owner: dict[tuple[int, str], str] = {}
    expected_pairs: set[tuple[int, str]] = set()
    folded_pairs = 0
    story_items: dict[str, list[str]] = defaultdict(list)
    for p in matching:
        story = rows[p.guid][2]
        story_items[story].append(p.guid)
        for chat in subscribers(p.topics):
            if (chat, story) in slot_owner:
                folded_pairs += 1
            else:
                slot_owner[(chat, story)] = p.guid
                expected_pairs.add((chat, p.guid))
    opened_by_new = sum(1 for s, g in story_items.items() if rows[g[0]][1] == s)
    folded_items = sum(1 for p in matching if rows[p.guid][2] != rows[p.guid][1])

    # ---- what Telegram received --------------------------------------------------------
    calls = emulator.control("calls", timeout=600)
    sends = [c for c in calls if c["method"].lower() == "sendmessage"]
    edits = [c for c in calls if c["method"].lower() == "editmessagetext"]
    ok_sends = [c for c in sends if c["status"] == 200]
    status_counts = Counter(c["status"] for c in calls)
    odd_calls = Counter(
        f"{c['method']} {c['status']} {((c.get('response') or {}).get('description') or '')[:50]}"
        .strip() for c in calls if c["status"] != 200)
    title_index: dict[str, list[str]] = defaultdict(list)
    for p in matching:
        title_index[p.title].append(p.guid)
    got: dict[tuple[int, str], list[float]] = defaultdict(list)
    kinds: Counter[str] = Counter()
    via_followup: set[tuple[int, str]] = set()
    per_chat_times: dict[int, list[float]] = defaultdict(list)
    for c in ok_sends:
        result = (c.get("response") or {}).get("result") or {}
        text = result.get("text") or ""
        chat = int((result.get("chat") or {}).get("id") or c["params"].get("chat_id"))
        per_chat_times[chat].append(float(c["at"]))
        if text.startswith("🗞"):
            kinds["batched list"] += 1
        elif c["params"].get("reply_parameters"):
            kinds["follow-up reply"] += 1
        else:
            kinds["single alert"] += 1
        followup = bool(c["params"].get("reply_parameters"))
        for title, owners in title_index.items():
            if title in text:
                for guid in owners:
                    got[(chat, guid)].append(float(c["at"]))
                    if followup:
                        via_followup.add((chat, guid))
    delivered_expected = sum(1 for pair in expected_pairs if pair in got)
    traces = folded_traces(soak, calls, rows, matching, subscribers)
    lost = [pair for pair in expected_pairs if pair not in got]
    extra = [pair for pair in got if pair not in expected_pairs and pair not in via_followup]
    followup_pairs = [pair for pair in got if pair not in expected_pairs and pair in via_followup]
    dup_pairs = {pair: len(ts) for pair, ts in got.items() if len(ts) > 1}
    also = sum(1 for c in edits if c["status"] == 200
               and "also reported by" in ((c.get("response") or {}).get("result") or {})
               .get("text", "").lower())

    # ---- latency ----------------------------------------------------------------------
    for (chat, guid), times in got.items():
        if (chat, guid) not in expected_pairs:
            continue
        _, _, _, published, seen = rows[guid]
        at = min(times)
        if published is not None:
            acc.lat_pub.append(at - published.timestamp())
            acc.slowest.append((at - published.timestamp(), guid, chat))
        acc.lat_send.append(at - seen.timestamp())
    for p in soak.published:
        if p.guid in rows and rows[p.guid][3] is not None:
            published_at = rows[p.guid][3]
            assert published_at is not None
            acc.lat_poll.append(rows[p.guid][4].timestamp() - published_at.timestamp())
    acc.slowest.sort(reverse=True)

    # ---- per-chat pacing (Telegram: 1 message/s per chat, burst 3) -----------------------
    tight = 0
    for times in per_chat_times.values():
        times.sort()
        tight += sum(1 for a, b in zip(times, times[3:], strict=False) if b - a < 3.0)

    status_rows = soak.query("SELECT kind, status, count(*) FROM deliveries GROUP BY 1, 2")
    classes = Counter(item_class(p.topics) for p in soak.published)
    acc.add("items published (trade / steel-only / none)",
            f"{len(soak.published)} ({classes['trade']} / {classes['steel']} / {classes['none']})")
    acc.add("matching items (oracle) stored / bot's topics disagree",
            f"{len(matching)} / {len(disagree)}")
    acc.add("  of which joined an earlier story (bot's grouping)",
            f"{folded_items} ({opened_by_new} new stories opened by published items; "
            f"{len(story_items)} stories touched)")
    acc.add("expected deliveries per ITEM (items x subscribers)", expected_items)
    acc.add("expected deliveries per (chat, story) slot", len(expected_pairs))
    acc.add("  pairs folded into an already-open slot (edit, no message)", folded_pairs)
    acc.add("delivered (chat, item) pairs that were expected", delivered_expected)
    acc.add("LOST (expected slot, no message with its title)", len(lost))
    acc.add("DUPLICATED pairs (title in >1 message to the chat)", len(dup_pairs))
    acc.add("folded pairs sent as a follow-up reply (item added a topic)", len(followup_pairs))
    acc.add("unexpected pairs (a folded item's title sent otherwise)", len(extra))
    acc.add("sendMessage 200 (single / batched list / follow-up)",
            f"{len(ok_sends)} ({kinds['single alert']} / {kinds['batched list']} / "
            f"{kinds['follow-up reply']})")
    acc.add("editMessageText 200 (with 'Also reported by')",
            f"{sum(1 for c in edits if c['status'] == 200)} ({also})")
    acc.add("  folded pairs: where the later outlet shows in the chat",
            ", ".join(f"{k}: {n}" for k, n in traces.most_common()) or "-")
    acc.add("Bot API answers by HTTP status", dict(sorted(status_counts.items())))
    acc.add("  non-200 answers by method", dict(sorted(odd_calls.items())) or "-")
    acc.add("chats with >3 messages inside 3 s (per-chat pacing)", tight)
    acc.add("outbox rows by kind/status",
            ", ".join(f"{k}/{s}: {n}" for k, s, n in sorted(status_rows)))
    if lost:
        sample = lost[:5]
        acc.problems.append(f"{len(lost)} expected (chat, item) pairs never delivered, e.g. "
                            f"{[(c, by_guid[g].title) for c, g in sample]}")
    if extra:
        acc.problems.append(f"{len(extra)} (chat, item) pairs of items folded into an open "
                            f"slot were sent as a new alert, e.g. {extra[:3]}")
    if dup_pairs:
        acc.problems.append(f"{len(dup_pairs)} (chat, item) pairs delivered more than once, "
                            f"e.g. {list(dup_pairs.items())[:3]}")
    return acc


def folded_traces(soak: Soak, calls: Sequence[dict[str, Any]],
                  rows: dict[str, tuple[int, str, str, datetime | None, datetime]],
                  matching: Sequence[Published], subscribers: Any) -> Counter[str]:
    """For every (chat, item) pair folded into a slot another item opened: does the chat's
    message for that story, as last rendered (sent or edited), show the item's outlet? By
    name, or in the "+K" count when that count is what the story's outlets add up to."""
    owner_msg: dict[tuple[int, int], int] = {}
    per_message: Counter[tuple[int, int]] = Counter()
    for chat, item_id, message_id in soak.query(
            "SELECT chat_id, item_id, message_id FROM deliveries WHERE kind = 'alert' "
            "AND status = 'sent' AND message_id IS NOT NULL"):
        owner_msg[(int(chat), int(item_id))] = int(message_id)
        per_message[(int(chat), int(message_id))] += 1
    last_text: dict[tuple[int, int], tuple[float, str]] = {}
    for c in sorted(calls, key=lambda c: float(c["at"])):
        result = (c.get("response") or {}).get("result")
        if c["status"] != 200 or not isinstance(result, dict) or "message_id" not in result:
            continue
        key = (int(result["chat"]["id"]), int(result["message_id"]))
        last_text[key] = (float(c["at"]), str(result.get("text") or ""))
    stories = {rows[p.guid][2] for p in matching}
    outlets: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for story, source, seen in soak.query("SELECT story_key, source, first_seen_at FROM items"):
        if story in stories:
            seen_at = parse_db_time(seen)
            assert seen_at is not None
            outlets[story].append((seen_at.timestamp(), str(source)))
    owner: dict[tuple[int, str], Published] = {}
    traces: Counter[str] = Counter()
    for p in matching:
        story = rows[p.guid][2]
        for chat in subscribers(p.topics):
            first = owner.setdefault((chat, story), p)
            if first is p:
                continue
            message_id = owner_msg.get((chat, rows[first.guid][0]))
            if message_id is None:
                traces["original not sent"] += 1
                continue
            if per_message[(chat, message_id)] > 1:
                traces["original was a batched list (not edited, by design)"] += 1
                continue
            if first.feed == p.feed:
                traces["same outlet as the original"] += 1
                continue
            rendered_at, text = last_text.get((chat, message_id), (0.0, ""))
            if rows[p.guid][4].timestamp() > rendered_at:
                traces["stored after the message was last rendered"] += 1
                continue
            also = re.search(r"Also reported by: (.*)", text)
            names = also.group(1).split(", ") if also else []
            if f"Synthetic news {p.feed}" in names:
                traces["named in 'Also reported by'"] += 1
                continue
            more = sum(int(n[1:]) for n in names if re.fullmatch(r"\+\d+", n))
            shown = len([n for n in names if not n.startswith("+")]) + more
            own = f"Synthetic news {first.feed}".casefold()
            known = {src.casefold() for at, src in outlets[story] if at <= rendered_at} - {own}
            if more and shown >= len(known):
                traces["counted in '+K' (the count adds up)"] += 1
            else:
                traces["NOT shown"] += 1
    return traces


# --------------------------------------------------------------------------- main


def fmt_s(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} s"


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="newsbot-soak-"))
    soak = Soak(args, workdir)
    rng = random.Random(args.seed)
    sampler: Sampler | None = None
    exit_code: int | None = None
    final_metrics: dict[str, float] = {}
    times: dict[str, float] = {}
    try:
        print(f"work folder: {workdir}; code: {code_version()}")
        offered_trade = args.chats / args.trade_every
        offered_steel = args.steel_chats / args.steel_every
        offered = offered_trade + offered_steel
        capacity = min(args.max_per_second, TELEGRAM_LIMIT)
        print(f"offered load (upper bound, every matching item a new story): "
              f"trade {args.chats} chats / {args.trade_every:g} s = {offered_trade:.1f} msg/s, "
              f"steel {args.steel_chats} chats / {args.steel_every:g} s = "
              f"{offered_steel:.1f} msg/s; total {offered:.1f} msg/s vs capacity "
              f"{capacity:g} msg/s ({offered / capacity:.0%}); plus one item "
              f"matching nothing every {args.tick:g} s otherwise")
        if offered > capacity:
            print("  warning: the offered load exceeds Telegram's budget; the queue will grow")

        feed_proc, feed_root = start_server("feed_server", [
            "tests.fakes.feed_server", "--synthetic", str(args.feeds), "--items",
            str(args.items), "--port", "0", "--seed", str(args.seed)], workdir)
        soak.procs.append(feed_proc)
        emu_args = ["tests.fakes.telegram_api", "--port", str(args.telegram_port), "--token",
                    TOKEN]
        if not args.no_rate_limits:
            emu_args.append("--rate-limits")
        emu_proc, api_root = start_server("telegram_api", emu_args, workdir)
        soak.procs.append(emu_proc)
        emulator, feeds = Emulator(api_root), FeedControl(feed_root)
        print(f"feed server {feed_root}, Bot API emulator {api_root}")

        started = time.monotonic()
        for n in range(args.chats):
            emulator.control("user_sends", text="hello", user_id=CHAT_BASE + n)
        print(f"{args.chats} private chats exist in the emulator "
              f"({time.monotonic() - started:.1f} s)")
        db_url = f"sqlite:///{soak.db}"
        asyncio.run(prepare_database(db_url, args.chats, args.steel_chats))
        config = workdir / "newsbot.toml"
        write_config(config, feed_root, args.feeds, args.max_per_second)
        checked, bad = check_oracle(config, args.feeds, 10)
        print(f"oracle vs the bot's matcher on the next 10 headlines of every feed: "
              f"{checked - bad}/{checked} agree")
        if bad:
            raise RuntimeError("the topic oracle disagrees with the bot's matcher")
        check = subprocess.run([sys.executable, "-m", "bot", "check-config", "--config",
                                str(config)], cwd=ROOT, capture_output=True, text=True,
                               check=False)
        if check.returncode != 0:
            raise RuntimeError(f"check-config failed: {check.stdout}{check.stderr}")
        size_before = sum(db_sizes(soak.db))
        tcp_before = tcp_counters()

        port = free_port()
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api_root,
               "DATABASE_URL": db_url, "NEWSBOT_HTTP_LISTEN": f"127.0.0.1:{port}"}
        env.pop("NEWSBOT_CONFIG", None)
        bot_cmd = [sys.executable, "-m", "bot", "run", "--config", str(config),
                   "--log-format", "json"]
        bot_log = workdir / "bot.log"
        with bot_log.open("wb") as out:
            process = subprocess.Popen(bot_cmd, cwd=ROOT, env=env, stdout=out,
                                       stderr=subprocess.STDOUT)
        soak.bot = Proc("bot", process, bot_log)
        soak.procs.append(soak.bot)
        print(f"bot pid {process.pid}: {' '.join(bot_cmd)}")
        sampler = Sampler(process.pid, soak.db, metrics_url, args.sample, soak)
        sampler.start()
        watcher = RetryWatcher(soak)
        watcher.start()

        def seeded() -> bool:
            if not soak.bot_alive():
                raise RuntimeError(f"the bot exited early ({process.returncode}): "
                                   f"{bot_log.read_text()[-3000:]}")
            try:
                count = int(soak.query("SELECT count(*) FROM feeds WHERE seeded = 1")[0][0])
                return bool(count >= args.feeds)
            except sqlite3.Error:
                return False

        soak.phase = "seeding"
        wait_for("every feed to be seeded", seeded, 300)
        wait_for("/metrics", lambda: bool(scrape(metrics_url)), 60)
        time.sleep(2)
        times["seeded"] = time.monotonic() - sampler.t0
        print(f"all {args.feeds} feeds seeded after {times['seeded']:.1f} s; publishing for "
              f"{args.minutes:g} min")
        start_sample = sampler.take()

        soak.phase = "publish"
        publish_loop(soak, feeds, rng, args.minutes * 60)
        times["published"] = time.monotonic() - sampler.t0
        if soak.shortages:
            print(f"  ticks without a feed whose next headline had the wanted class: "
                  f"{dict(soak.shortages)}")

        soak.phase = "ingest"
        guids = [p.guid for p in soak.published]

        def stored() -> bool:
            if not soak.bot_alive():
                raise RuntimeError("the bot died")
            n = 0
            for s in range(0, len(guids), 500):
                chunk = guids[s:s + 500]
                n += soak.query(f"SELECT count(*) FROM items WHERE guid IN "
                                f"({','.join('?' * len(chunk))})", chunk)[0][0]
            return bool(n >= len(guids))

        wait_for("every published item to be polled and stored", stored, args.ingest_timeout,
                 every=5)
        times["ingested"] = time.monotonic() - sampler.t0
        soak.phase = "drain"

        def drained() -> bool:
            pending = soak.query("SELECT count(*) FROM deliveries WHERE status IN "
                                 "('pending', 'sending')")[0][0]
            return bool(pending == 0 and scrape(metrics_url).get("newsbot_outbox_queue") == 0)

        try:
            wait_for("the outbox to drain", drained, args.drain_timeout, every=2)
        except RuntimeError as exc:
            print(f"  {exc}")
        times["drained"] = time.monotonic() - sampler.t0
        time.sleep(3)  # a last drain tick
        sampler.take()
        final_metrics = scrape(metrics_url)
        soak.phase = "stop"
        sampler.stop_event.set()
        watcher.stop_event.set()
        process.send_signal(signal.SIGTERM)
        try:
            exit_code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print("  the bot did not exit within 60 s of SIGTERM; killing it")
            process.kill()
            exit_code = process.wait(timeout=10)
        times["stopped"] = time.monotonic() - sampler.t0
        size_end = sum(db_sizes(soak.db))
        tcp_after = tcp_counters()
        tcp = {k: tcp_after.get(k, 0) - tcp_before.get(k, 0)
               for k in ("ListenOverflows", "ListenDrops", "SyncookiesSent")}

        acc = analyse(soak, emulator, args.chats, args.steel_chats)
        rate_limited = int(emulator.control("info")["rate_limited_count"])
        emulator_errors = emulator.control("internal_errors")
        feed_stats = feeds.stats()
        report(soak, sampler.samples, start_sample, acc, final_metrics, exit_code,
               rate_limited, emulator_errors, feed_stats, times, size_before, size_end,
               bot_log, offered, watcher.summary(), tcp)
        ok = exit_code == 0 and not acc.problems
        return 0 if ok else 1
    except Stopped:
        print("stopped by signal")
        return 130
    finally:
        if sampler is not None:
            sampler.stop_event.set()
        soak.stop_all()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def log_summary(path: Path) -> list[str]:
    counts: Counter[tuple[str, str, str]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            counts[("raw", "-", line[:100])] += 1
            continue
        if event.get("level") in ("WARNING", "ERROR", "CRITICAL"):
            message = re.sub(r"\d+", "N", str(event.get("message", "")).splitlines()[0])[:110]
            counts[(event["level"], event.get("logger", "?"), message)] += 1
    return [f"{n:6} {level} {logger}: {message}"
            for (level, logger, message), n in counts.most_common(12)]


def outcome_key(outcome: str) -> str:
    return 'newsbot_deliveries_total{outcome="' + outcome + '"}'


def report(soak: Soak, samples: list[Sample], start: Sample, acc: Accounting,
           metrics: dict[str, float], exit_code: int | None, rate_limited: int,
           emulator_errors: list[str], feed_stats: dict[str, Any], times: dict[str, float],
           size_before: int, size_end: int, bot_log: Path, offered: float,
           retry_reasons: list[str], tcp: dict[str, int]) -> None:
    args = soak.args
    running = [s for s in samples if s.rss_kib]
    peak = max((s.hwm_kib for s in running), default=0)
    peak_sampled = max((s.rss_kib for s in running), default=0)
    last = running[-1] if running else start
    publish = [s for s in running if s.phase == "publish"]
    first_pub, last_pub = (publish[0], publish[-1]) if publish else (start, last)
    slope = math.nan
    if len(publish) >= 3:
        xs, ys = [s.t for s in publish], [s.rss_kib / 1024 for s in publish]
        slope = statistics.linear_regression(xs, ys).slope * 60
    sent_msgs = metrics.get(outcome_key("sent"), math.nan)
    lat_name = "newsbot_delivery_latency_from_published_seconds"
    lat_count = metrics.get(f"{lat_name}_count", 0.0)
    metric_mean = metrics.get(f"{lat_name}_sum", math.nan) / lat_count if lat_count else math.nan
    span = times.get("drained", 0) - times.get("seeded", 0)
    ingest_s = times.get("ingested", 0) - times.get("published", 0)
    drain_s = times.get("drained", 0) - times.get("ingested", 0)
    start_size = start.db + start.wal + start.shm
    peak_wal = max((s.wal for s in running), default=0)

    rows: list[tuple[str, str]] = [
        ("duration (publishing)", f"{args.minutes:g} min; seeding took "
                                  f"{times.get('seeded', 0):.0f} s, storing the last items "
                                  f"{ingest_s:.0f} s, draining {drain_s:.0f} s"),
        ("feeds / chats / topics", f"{args.feeds} / {args.chats} (trade: {args.chats}, steel: "
                                   f"{args.steel_chats}) / 2"),
        ("RSS at publish start / final", f"{start.rss_kib / 1024:.1f} / "
                                         f"{last.rss_kib / 1024:.1f} MiB"),
        ("RSS peak (VmHWM / highest sample)", f"{peak / 1024:.1f} / "
                                              f"{peak_sampled / 1024:.1f} MiB"),
        ("RSS during publishing: first / last / trend",
         f"{first_pub.rss_kib / 1024:.1f} / {last_pub.rss_kib / 1024:.1f} MiB, "
         f"{slope:+.2f} MiB/min (least squares)"),
        ("bot CPU time", f"{last.cpu_s:.1f} s ({last.cpu_s / max(last.t, 1):.0%} of one core)"),
        ("DB size before bot / at publish start / end",
         f"{size_before / 1e6:.2f} / {(start.db + start.wal + start.shm) / 1e6:.2f} / "
         f"{size_end / 1e6:.2f} MB (db+wal+shm)"),
        ("DB growth during the soak", f"{(size_end - start_size) / 1e6:+.2f} MB "
                                      f"(peak wal {peak_wal / 1e6:.2f} MB)"),
        ("queue length (max sampled / final)",
         f"{max((s.queue for s in running if not math.isnan(s.queue)), default=math.nan):.0f} / "
         f"{last.queue:.0f}"),
    ]
    rows += acc.lines
    rows += [
        ("offered load upper bound / realised", f"{offered:.1f} msg/s / "
                                                f"{sent_msgs / span if span else math.nan:.1f} "
                                                f"rows/s sent over {span:.0f} s"),
        ("latency publication -> delivery p50 / p95 / max",
         f"{fmt_s(pct(acc.lat_pub, 0.5))} / {fmt_s(pct(acc.lat_pub, 0.95))} / "
         f"{fmt_s(max(acc.lat_pub, default=math.nan))}  (n={len(acc.lat_pub)})"),
        ("  publication -> first seen (polling) p50 / p95 / max",
         f"{fmt_s(pct(acc.lat_poll, 0.5))} / {fmt_s(pct(acc.lat_poll, 0.95))} / "
         f"{fmt_s(max(acc.lat_poll, default=math.nan))}  (n={len(acc.lat_poll)} items)"),
        ("  first seen -> delivery p50 / p95 / max",
         f"{fmt_s(pct(acc.lat_send, 0.5))} / {fmt_s(pct(acc.lat_send, 0.95))} / "
         f"{fmt_s(max(acc.lat_send, default=math.nan))}"),
        ("429 answers (emulator's flood limits)", str(rate_limited)),
        ("/metrics: sent / retried / failed / dropped",
         " / ".join(f"{metrics.get(outcome_key(o), math.nan):.0f}"
                    for o in ("sent", "retried", "failed", "dropped"))),
        ("/metrics: 429s / latency histogram count / items new",
         f"{metrics.get('newsbot_telegram_rate_limited_total', math.nan):.0f} / "
         f"{metrics.get('newsbot_delivery_latency_from_published_seconds_count', math.nan):.0f} / "
         f"{metrics.get('newsbot_items_new_total', math.nan):.0f}"),
        ("/metrics: mean latency from publication vs measured",
         f"{metric_mean:.1f} s vs {statistics.fmean(acc.lat_pub) if acc.lat_pub else math.nan:.1f}"
         " s (the metric takes the drain's end as the send time)"),
        ("host TCP listen overflows / drops / syncookies (all processes)",
         f"{tcp.get('ListenOverflows', 0)} / {tcp.get('ListenDrops', 0)} / "
         f"{tcp.get('SyncookiesSent', 0)}"),
        ("feed server requests (200 / 304)",
         f"{feed_stats.get('requests', '?')} ({feed_stats.get('by_status', {}).get('200', 0)} / "
         f"{feed_stats.get('not_modified', 0)})"),
        ("emulator internal errors", str(len(emulator_errors))),
        ("bot exit code after SIGTERM", str(exit_code)),
    ]
    width = max(len(label) for label, _ in rows)
    print()
    print("=" * (width + 60))
    print(f"newsbot soak: {args.minutes:g} min, {args.feeds} feeds, {args.chats} chats")
    print("=" * (width + 60))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print("=" * (width + 60))
    if acc.slowest:
        print("slowest deliveries (publication -> delivery):")
        seen: set[str] = set()
        for lat, guid, chat in acc.slowest:
            if guid in seen:
                continue
            seen.add(guid)
            title = next(p.title for p in soak.published if p.guid == guid)
            print(f"  {lat:7.1f} s  chat {chat}  {guid}  {title[:70]}")
            if len(seen) >= 3:
                break
    if retry_reasons:
        print("retry reasons seen on pending outbox rows (rows, reason with digits as N):")
        for line in retry_reasons:
            print(f"  {line}")
    warnings = log_summary(bot_log)
    if warnings:
        print("bot log warnings/errors (count, level, logger, message with digits as N):")
        for line in warnings:
            print(f"  {line}")
    for problem in acc.problems:
        print(f"PROBLEM: {problem}")
    if exit_code != 0:
        print(f"PROBLEM: the bot exited {exit_code} after SIGTERM")
    print("RESULT:", "ok" if exit_code == 0 and not acc.problems else "FAILED")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--minutes", type=float, default=10.0, help="publishing time")
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=30, help="items per feed at the start")
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--steel-chats", type=int, default=100)
    parser.add_argument("--tick", type=float, default=2.5, help="seconds between items")
    parser.add_argument("--trade-every", type=float, default=20.0)
    parser.add_argument("--steel-every", type=float, default=60.0)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--ingest-timeout", type=float, default=900.0,
                        help="bound on waiting for the last items to be polled")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--telegram-port", type=int, default=0)
    parser.add_argument("--max-per-second", type=float, default=TELEGRAM_LIMIT,
                        help="[delivery] max_per_second (default: Telegram's 30)")
    parser.add_argument("--no-rate-limits", action="store_true",
                        help="run the emulator without Telegram's flood limits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    if args.steel_chats > args.chats:
        parser.error("--steel-chats must not exceed --chats")

    def on_signal(signum: int, frame: object) -> None:
        raise Stopped

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
