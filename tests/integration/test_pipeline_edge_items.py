"""Awkward items in a real feed, through `run_cycle`: undated, future-dated and old items,
duplicate GUIDs in one document, GUIDs that change on every fetch, items that leave the
feed and come back. Served over HTTP by the fake feed server on 127.0.0.1, stored in a
real database (a SQLite file; PostgreSQL too when NEWSBOT_TEST_POSTGRES_URL is set),
and what a reader gets is judged by the messages a recording sender was asked to send.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import config as config_module
from bot.delivery.outbox import Drainer
from bot.delivery.telegram import Buttons, SendOutcome, Sent
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.pipeline import FUTURE_TOLERANCE, CycleReport, PipelineDeps, restore_stories, run_cycle
from bot.store import chats as chat_store
from bot.store.engine import create_engine, migrate
from bot.store.feeds import sync_feeds
from bot.store.schema import deliveries, items
from bot.stories import StoryGrouper
from tests.fakes.feed_server import FeedServer
from tests.support.databases import database_url, postgres_base_url

NOW = datetime.now(UTC).replace(microsecond=0)
CHAT = 7
PATH = "/edge.xml"
# Never skipped: PostgreSQL joins only where it is configured (CI).
KINDS = ["sqlite"] + (["postgresql"] if postgres_base_url() else [])


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Entry:
    guid: str | None
    title: str
    link: str | None = None
    published: datetime | None = None
    summary: str = "<p>Officials gave no further details.</p>"


def rss(*entries: Entry) -> bytes:
    """An RSS 2.0 document with exactly these items in this order; a None field is left
    out entirely (no <guid>, no <link>, no <pubDate>)."""
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
           "<title>Edge Wire</title><link>https://edge.example/</link>"
           "<description>Edge Wire</description>"]
    for e in entries:
        out.append(f"<item><title>{escape(e.title)}</title>")
        if e.link is not None:
            out.append(f"<link>{escape(e.link)}</link>")
        if e.guid is not None:
            out.append(f'<guid isPermaLink="false">{escape(e.guid)}</guid>')
        if e.published is not None:
            out.append(f"<pubDate>{format_datetime(e.published)}</pubDate>")
        out.append(f"<description>{escape(e.summary)}</description></item>")
    out.append("</channel></rss>\n")
    return "".join(out).encode()


def background(n: int) -> Entry:
    """An item that matches no topic, to make each version of the document differ."""
    return Entry(f"urn:bg:{n}", f"Weather outlook for region {n}",
                 f"https://edge.example/bg/{n}", NOW - timedelta(hours=2))


@dataclass
class RecordingSender:
    """What a reader would see: every message sent and every edit made."""

    sent: list[str] = field(default_factory=list)
    edits: list[str] = field(default_factory=list)

    async def send(self, chat_id: int, text: str, *, html: bool, thread_id: int | None,
                   preview: bool, buttons: Buttons = (),
                   reply_to: int | None = None) -> SendOutcome:
        self.sent.append(text)
        return Sent(len(self.sent))

    async def edit(self, chat_id: int, message_id: int, text: str, *, html: bool,
                   preview: bool, buttons: Buttons = ()) -> SendOutcome:
        self.edits.append(text)
        return Sent(message_id)


@dataclass
class Harness:
    deps: PipelineDeps
    server: FeedServer
    sender: RecordingSender

    def serve(self, *entries: Entry) -> None:
        self.server.serve_bytes(PATH, rss(*entries),
                                headers={"Content-Type": "application/rss+xml"})

    async def cycle(self, now: datetime) -> CycleReport:
        """One poll of the feed (whatever its next poll time), then the outbox drained
        far enough ahead that coalesced edits are due too."""
        report = await run_cycle(self.deps, now, poll_all=True)
        [result] = report.results
        assert result.status == "ok", result
        await Drainer(self.deps.engine, self.sender, self.deps.config).drain(
            now + timedelta(minutes=10))
        return report

    async def stored(self) -> list[dict[str, object]]:
        async with self.deps.engine.connect() as conn:
            rows = await conn.execute(select(items.c.guid, items.c.title, items.c.url,
                                             items.c.published_at).order_by(items.c.id))
            return [dict(r._mapping) for r in rows]

    async def alert_rows(self) -> int:
        async with self.deps.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(deliveries)
                                           .where(deliveries.c.kind == "alert"))).scalar_one())


def make_config(url: str, *, seed: bool = True) -> config_module.AppConfig:
    return config_module.loads(f"""
[polling]
interval = "10m"
min_interval = "1m"
seed_on_first_poll = {"true" if seed else "false"}

[[feeds]]
url = "{url}"
name = "Edge Wire"

[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs OR "trade war"'
""")


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    with database_url(request.param, tmp_path) as url:
        engine = create_engine(url)
        await migrate(engine)
        try:
            yield engine
        finally:
            await engine.dispose()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


async def harness(store: AsyncEngine, server: FeedServer, fetcher: Fetcher, *,
                  seed: bool = True) -> Harness:
    cfg = make_config(server.url(PATH), seed=seed)
    await sync_feeds(store, [(f.url, f.name) for f in cfg.feeds])
    await chat_store.ensure_chat(store, CHAT, "private", "analyst", NOW)
    await chat_store.subscribe(store, CHAT, ["tariffs"], None, NOW)
    return Harness(PipelineDeps(store, fetcher, cfg, StoryGrouper()), server, RecordingSender())


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=5))) as f:
        yield f


@pytest.fixture
async def seeded(store: AsyncEngine, server: FeedServer, fetcher: Fetcher) -> Harness:
    """The feed polled once (seeded: its items are known and alert nobody)."""
    h = await harness(store, server, fetcher)
    h.serve(background(0))
    first = await h.cycle(NOW)
    assert (first.items_new, first.alerts_queued) == (1, 0)
    return h


# --------------------------------------------------------------------------- dates


async def test_an_undated_new_item_alerts_and_is_stored_without_a_date(seeded: Harness) -> None:
    seeded.serve(Entry("urn:undated", "US doubles tariffs on Chinese solar panels",
                       "https://edge.example/undated"), background(0))
    report = await seeded.cycle(NOW + timedelta(minutes=5))
    assert (report.items_new, report.alerts_queued) == (1, 1)
    [item] = [r for r in await seeded.stored() if r["guid"] == "urn:undated"]
    assert item["published_at"] is None
    assert len(seeded.sender.sent) == 1 and "solar panels" in seeded.sender.sent[0]


async def test_a_future_dated_item_is_stored_as_published_now_and_alerts(
        seeded: Harness) -> None:
    now = NOW + timedelta(minutes=5)
    seeded.serve(Entry("urn:future", "Tariff truce takes effect next week",
                       "https://edge.example/future", published=now + timedelta(days=3)),
                 Entry("urn:soon", "Trade war talks resume in Geneva",
                       "https://edge.example/soon", published=now + timedelta(minutes=30)),
                 background(0))
    report = await seeded.cycle(now)
    assert (report.items_new, report.alerts_queued) == (2, 2)
    dates = {r["guid"]: r["published_at"] for r in await seeded.stored()}
    assert dates["urn:future"] == now  # clamped: beyond FUTURE_TOLERANCE
    # Within the tolerance a clock skew is kept as the publisher gave it.
    assert dates["urn:soon"] == now + timedelta(minutes=30)
    assert timedelta(minutes=30) < FUTURE_TOLERANCE
    assert len(seeded.sender.sent) == 2


async def test_an_item_older_than_max_item_age_is_stored_but_does_not_alert(
        seeded: Harness) -> None:
    now = NOW + timedelta(minutes=5)
    old = now - timedelta(days=3, hours=1)  # max_item_age defaults to 3 days
    seeded.serve(Entry("urn:old", "Tariff history: the 1930 Smoot-Hawley act",
                       "https://edge.example/old", published=old),
                 Entry("urn:recent", "Tariffs on steel raised again",
                       "https://edge.example/recent", published=now - timedelta(days=2)),
                 background(0))
    report = await seeded.cycle(now)
    assert (report.items_new, report.alerts_queued) == (2, 1)
    dates = {r["guid"]: r["published_at"] for r in await seeded.stored()}
    assert dates["urn:old"] == old
    [message] = seeded.sender.sent
    assert "steel" in message and "Smoot" not in message


async def test_first_poll_of_a_feed_of_old_items_alerts_nobody(
        store: AsyncEngine, server: FeedServer, fetcher: Fetcher) -> None:
    """Seeding: the first poll stores the feed's items as known, whatever their dates,
    and a later poll that re-dates them (same GUIDs) brings nothing new."""
    h = await harness(store, server, fetcher)
    h.serve(Entry("urn:a", "Tariffs on rare earths", "https://edge.example/a",
                  NOW - timedelta(days=10)),
            Entry("urn:b", "Trade war: a look back", "https://edge.example/b",
                  NOW - timedelta(days=4)))
    first = await h.cycle(NOW)
    assert (first.items_new, first.alerts_queued) == (2, 0)
    h.serve(Entry("urn:a", "Tariffs on rare earths", "https://edge.example/a",
                  NOW - timedelta(days=20)),
            Entry("urn:b", "Trade war: a look back", "https://edge.example/b",
                  NOW + timedelta(minutes=1)))
    second = await h.cycle(NOW + timedelta(minutes=5))
    assert (second.items_new, second.alerts_queued) == (0, 0)
    assert h.sender.sent == [] and await h.alert_rows() == 0


async def test_without_seeding_the_first_poll_alerts_only_items_young_enough(
        store: AsyncEngine, server: FeedServer, fetcher: Fetcher) -> None:
    h = await harness(store, server, fetcher, seed=False)
    h.serve(Entry("urn:young", "Tariffs on chips take effect", "https://edge.example/young",
                  NOW - timedelta(days=2, hours=23)),
            Entry("urn:old", "Tariffs of the last decade", "https://edge.example/old",
                  NOW - timedelta(days=3, hours=1)),
            Entry("urn:ancient", "Trade war of 2018 explained", "https://edge.example/anc",
                  NOW - timedelta(days=400)))
    report = await h.cycle(NOW)
    assert (report.items_new, report.alerts_queued) == (3, 1)
    [message] = h.sender.sent
    assert "chips" in message


# --------------------------------------------------------------------------- identity


async def test_duplicate_guids_in_one_document_store_the_first_and_alert_once(
        seeded: Harness) -> None:
    seeded.serve(Entry("urn:dup", "Tariffs on EVs raised to 100%", "https://edge.example/d1",
                       NOW),
                 Entry("urn:dup", "Tariffs on EVs: a correction", "https://edge.example/d2",
                       NOW - timedelta(minutes=1)),
                 background(0))
    report = await seeded.cycle(NOW + timedelta(minutes=5))
    assert (report.items_new, report.alerts_queued) == (1, 1)
    [item] = [r for r in await seeded.stored() if r["guid"] == "urn:dup"]
    assert (item["title"], item["url"]) == ("Tariffs on EVs raised to 100%",
                                            "https://edge.example/d1")
    [message] = seeded.sender.sent
    assert "100%" in message and "correction" not in message


async def test_a_guid_that_changes_every_fetch_with_the_same_link_alerts_once(
        seeded: Harness) -> None:
    def version(n: int) -> tuple[Entry, ...]:
        return (Entry(f"urn:session:{n}", "Tariff talks collapse in Geneva",
                      "https://edge.example/geneva", NOW - timedelta(minutes=30)),
                background(n))

    t = NOW
    for n in range(1, 4):
        t += timedelta(minutes=10)
        seeded.serve(*version(n))
        report = await seeded.cycle(t)
        assert report.alerts_queued == (1 if n == 1 else 0), n
    assert len(seeded.sender.sent) == 1 and seeded.sender.edits == []
    assert [r["guid"] for r in await seeded.stored()
            if r["url"] == "https://edge.example/geneva"] == ["urn:session:1"]


async def test_an_item_that_leaves_the_feed_and_comes_back_does_not_alert_again(
        seeded: Harness) -> None:
    story = Entry("urn:back", "China lifts tariffs on US soybeans", "https://edge.example/back",
                  NOW - timedelta(minutes=20))
    seeded.serve(story, background(0))
    assert (await seeded.cycle(NOW + timedelta(minutes=5))).alerts_queued == 1
    seeded.serve(background(1), background(0))  # gone
    assert (await seeded.cycle(NOW + timedelta(minutes=15))).items_new == 1
    seeded.serve(background(3), background(2), story, background(1))  # back, below others
    report = await seeded.cycle(NOW + timedelta(minutes=25))
    assert (report.items_new, report.alerts_queued) == (2, 0)
    assert len(seeded.sender.sent) == 1 and seeded.sender.edits == []
    assert [r["guid"] for r in await seeded.stored()].count("urn:back") == 1


@pytest.mark.parametrize(("restart", "polled_at"), [
    (False, (10, 20, 30)),
    (True, (10, 20, 30)),
    # The publisher keeps the item for days (its date stays): past the story window (48 h)
    # and still younger than max_item_age (3 days).
    (False, (10, 49 * 60, 50 * 60)),
], ids=["same-process", "after-restart", "kept-past-the-story-window"])
async def test_a_guid_that_changes_every_fetch_without_a_link_alerts_once(
        seeded: Harness, restart: bool, polled_at: tuple[int, ...]) -> None:
    """No link, and a GUID made per request (a session id): only the text is stable.
    A reader must get ONE message for it, not one per poll, and no edits of it either
    ("also reported by" the same outlet says nothing)."""
    def version(n: int) -> tuple[Entry, ...]:
        return (Entry(f"urn:req:{n}", "Beijing answers new US tariffs with export curbs",
                      None, NOW - timedelta(minutes=30),
                      summary="<p>The commerce ministry announced curbs on gallium.</p>"),
                background(n))

    for n, minutes in enumerate(polled_at, start=1):
        t = NOW + timedelta(minutes=minutes)
        if restart and n > 1:  # a restart between polls: the story window is reloaded
            seeded.deps.grouper = StoryGrouper()
            await restore_stories(seeded.deps.engine, seeded.deps.grouper, t)
        seeded.serve(*version(n))
        await seeded.cycle(t)
    assert len(seeded.sender.sent) == 1, seeded.sender.sent
    assert seeded.sender.edits == []
    assert await seeded.alert_rows() == 1
