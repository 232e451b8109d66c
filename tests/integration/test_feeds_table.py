"""`newsbot feeds` after real polls: three feeds served on 127.0.0.1 (one with new items,
one failing twice, one answering 304) polled by `run_cycle` into a SQLite file, then the
command run the way an operator runs it (a subprocess) on that file. Every cell of every
row is checked against what those polls must have left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import config as config_module
from bot.durations import parse_duration
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.pipeline import PipelineDeps, run_cycle
from bot.store.engine import create_engine, migrate
from bot.store.feeds import sync_feeds
from bot.stories import StoryGrouper
from tests.fakes.feed_server import Fault, FeedEntry, FeedServer

ROOT = Path(__file__).resolve().parents[2]
SLACK = timedelta(seconds=90)  # the command runs a little after the test started
FEEDS = {"/alpha.xml": "Alpha Wire", "/beta.xml": "Beta Down", "/gamma.xml": "Gamma Static"}


def newsbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=120, env={**os.environ, **env})


def config_text(server: FeedServer, paths: list[str]) -> str:
    feeds = "".join(f'\n[[feeds]]\nurl = "{server.url(p)}"\nname = "{FEEDS[p]}"\n'
                    for p in paths)
    return f"""
[polling]
interval = "1h"
min_interval = "1m"
{feeds}
[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs'
"""


def story(path: str, n: int, at: datetime) -> FeedEntry:
    return FeedEntry(guid=f"urn:{path}:{n}", title=f"Market report {n}",
                     link=f"https://news.example{path}/{n}", summary="<p>Prices moved.</p>",
                     published=at)


def table(stdout: str) -> dict[str, dict[str, str]]:
    """The table's rows by feed name, cut at the header's column starts."""
    lines = stdout.splitlines()
    header = lines[0]
    names = ["feed", "last success", "last status", "items", "errors", "next poll",
             "new items every"]
    starts = [header.index(n) for n in names]
    assert starts == sorted(starts), header
    assert set(lines[1]) <= {"-", " "}
    rows: dict[str, dict[str, str]] = {}
    for line in lines[2:]:
        if not line.strip():
            break
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows[cells[0]] = dict(zip(names, cells, strict=True))
    return rows


def ago(cell: str) -> timedelta:
    assert cell.endswith(" ago"), cell
    return parse_duration(cell.removesuffix(" ago"))


def ahead(cell: str) -> timedelta:
    assert cell.startswith("in "), cell
    return parse_duration(cell.removeprefix("in "))


def within(value: timedelta, low: timedelta, high: timedelta) -> bool:
    """`value` as the command measured it, a little after `t`: low - slack <= value <= high
    for times ahead; the caller passes the bounds as seen at the start."""
    return low - SLACK <= value <= high + SLACK


@pytest.fixture
def t() -> datetime:
    """Real time at the start of the test (not at import: a full suite runs it minutes
    later): the command measures "ago" and "in" against its own clock."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def server(t: datetime) -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.add_feed("/alpha.xml", items=[story("/alpha.xml", n, t - timedelta(hours=5, minutes=n))
                                          for n in range(3)])
        srv.add_feed("/beta.xml", items=[story("/beta.xml", n, t - timedelta(hours=6))
                                         for n in range(2)])
        srv.add_feed("/gamma.xml", items=[story("/gamma.xml", n, t - timedelta(hours=7))
                                          for n in range(2)])
        yield srv


async def test_feeds_table_after_real_polls(server: FeedServer, tmp_path: Path,
                                            t: datetime) -> None:
    url = f"sqlite:///{tmp_path / 'newsbot.db'}"
    everything = list(FEEDS)
    engine = create_engine(url)
    await migrate(engine)
    try:
        async with Fetcher(FetchLimits(timeout=timedelta(seconds=5))) as fetcher:
            deps = PipelineDeps(engine, fetcher, config_module.loads(
                config_text(server, everything)), StoryGrouper())
            await sync_feeds(engine, [(f.url, f.name) for f in deps.config.feeds])

            async def poll(path: str | None, at: datetime, status: str | None) -> None:
                deps.config = config_module.loads(
                    config_text(server, [path] if path else everything))
                report = await run_cycle(deps, at, poll_all=True)
                if status is not None:
                    assert [r.status for r in report.results] == [status], report.results

            await poll(None, t - timedelta(hours=4), None)  # all three seeded
            server.publish("/alpha.xml", story("/alpha.xml", 3, t - timedelta(hours=3)),
                           story("/alpha.xml", 4, t - timedelta(hours=3)))
            await poll("/alpha.xml", t - timedelta(hours=3), "ok")
            server.set_fault("/beta.xml", Fault.http_status(500))
            await poll("/beta.xml", t - timedelta(hours=2), "failed")
            await poll("/beta.xml", t - timedelta(hours=1), "failed")
            await poll("/gamma.xml", t - timedelta(minutes=30), "not-modified")
            server.publish("/alpha.xml", story("/alpha.xml", 5, t - timedelta(minutes=15)))
            await poll("/alpha.xml", t - timedelta(minutes=10), "ok")
    finally:
        await engine.dispose()

    config = tmp_path / "newsbot.toml"
    config.write_text(config_text(server, everything))
    result = newsbot("feeds", "--config", str(config), "--log-level", "WARNING",
                     env={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    rows = table(result.stdout)
    assert sorted(rows) == sorted(FEEDS.values())
    assert result.stdout.rstrip().endswith("3 feeds, 1 failing or disabled")

    alpha = rows["Alpha Wire"]
    assert within(ago(alpha["last success"]), timedelta(minutes=10), timedelta(minutes=10))
    assert (alpha["last status"], alpha["items"], alpha["errors"]) == ("ok", "6", "0")
    # New items 1h, then 2h50m apart: a moving average (weight 0.3 for the newest gap)
    # of 60 and 170 minutes is 93 minutes; polled every half of it, +-10%, from t-10m.
    assert alpha["new items every"] == "1h33m"
    assert within(ahead(alpha["next poll"]), timedelta(minutes=-10 + 46.5 * 0.9),
                  timedelta(minutes=-10 + 46.5 * 1.1))

    beta = rows["Beta Down"]
    assert within(ago(beta["last success"]), timedelta(hours=4), timedelta(hours=4))
    assert beta["last status"] == "failed: http: HTTP 500"
    assert (beta["items"], beta["errors"], beta["new items every"]) == ("2", "2", "-")
    # Two failures in a row: twice the 1h interval, less up to 15% jitter, from t-1h.
    assert within(ahead(beta["next poll"]), timedelta(minutes=-60 + 120 * 0.85),
                  timedelta(minutes=-60 + 120))

    gamma = rows["Gamma Static"]
    assert within(ago(gamma["last success"]), timedelta(minutes=30), timedelta(minutes=30))
    assert (gamma["last status"], gamma["items"], gamma["errors"]) == ("not-modified", "2", "0")
    assert gamma["new items every"] == "-"
    assert within(ahead(gamma["next poll"]), timedelta(minutes=-30 + 54),
                  timedelta(minutes=-30 + 66))
