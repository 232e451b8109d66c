"""Poll cycles against a real feed server on 127.0.0.1, stored in a real database
(SQLite and PostgreSQL), drained through a recording sender."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import config as config_module
from bot.delivery.outbox import Drainer
from bot.delivery.telegram import Buttons, ChatGone, RetryLater, SendOutcome, Sent
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.pipeline import PipelineDeps, run_cycle
from bot.store import chats as chat_store
from bot.store import outbox
from bot.store.feeds import enable_feeds, feed_states, sync_feeds
from bot.stories import StoryGrouper
from tests.fakes.feed_server import Fault, FeedEntry, FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
ARTICLE = Path(__file__).resolve().parents[1] / "data" / "articles" / "news_article.html"


@dataclass
class RecordingSender:
    sent: list[tuple[int, str, bool]] = field(default_factory=list)
    script: dict[int, list[SendOutcome]] = field(default_factory=dict)  # per chat

    async def edit(self, chat_id: int, message_id: int, text: str, *, html: bool,
                   preview: bool, buttons: Buttons = ()) -> SendOutcome:
        self.sent.append((chat_id, f"(edit {message_id}) {text}", html))
        return Sent(message_id)

    async def send(self, chat_id: int, text: str, *, html: bool, thread_id: int | None,
                   preview: bool, buttons: Buttons = (),
                   reply_to: int | None = None) -> SendOutcome:
        if self.script.get(chat_id):
            return self.script[chat_id].pop(0)
        self.sent.append((chat_id, text, html))
        return Sent(len(self.sent))


def entry(n: int, title: str, minutes_ago: int = 1, **kw: str) -> FeedEntry:
    return FeedEntry(guid=f"urn:item:{n}", title=title, link=f"https://news.example/{n}",
                     summary=kw.get("summary", f"<p>Body of item {n}.</p>"),
                     published=NOW - timedelta(minutes=minutes_ago))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.add_feed("/a.xml", title="Feed A", items=[
            entry(1, "Old news about tariffs on steel"),
            entry(2, "Football results"),
        ])
        srv.add_feed("/b.xml", title="Feed B", items=[entry(10, "Weather")])
        yield srv


@pytest.fixture
async def deps(engine: AsyncEngine, server: FeedServer) -> AsyncIterator[PipelineDeps]:
    cfg = config_module.loads(f"""
[polling]
interval = "1m"
min_interval = "1s"

[[feeds]]
url = "{server.url('/a.xml')}"
name = "Feed A"

[[feeds]]
url = "{server.url('/b.xml')}"
name = "Feed B"

[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs OR "trade war"'
""")
    await sync_feeds(engine, [(f.url, f.name) for f in cfg.feeds])
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=5))) as fetcher:
        yield PipelineDeps(engine, fetcher, cfg, StoryGrouper())


async def test_first_poll_seeds_then_new_items_alert_once(
        deps: PipelineDeps, server: FeedServer) -> None:
    engine = deps.engine
    await chat_store.ensure_chat(engine, 7, "private", "analyst", NOW)
    await chat_store.subscribe(engine, 7, ["tariffs"], None, NOW)
    sender = RecordingSender()
    drainer = Drainer(engine, sender, deps.config)

    first = await run_cycle(deps, NOW)
    assert (first.count("ok"), first.items_new, first.alerts_queued) == (2, 3, 0)

    server.publish("/a.xml", entry(3, "US raises tariffs on Chinese EVs to 100%"),
                   entry(4, "Local bakery opens"))
    second = await run_cycle(deps, NOW + timedelta(minutes=2))
    assert (second.count("ok"), second.count("not-modified")) == (1, 1)
    assert (second.items_new, second.alerts_queued) == (2, 1)
    report = await drainer.drain(NOW + timedelta(minutes=2))
    assert report.sent == 1
    [(chat, text, html)] = sender.sent
    assert chat == 7 and html
    assert 'href="https://news.example/3"' in text and "100%" in text

    third = await run_cycle(deps, NOW + timedelta(minutes=4))
    assert (third.items_new, third.alerts_queued) == (0, 0)
    assert (await drainer.drain(NOW + timedelta(minutes=4))).sent == 0
    # conditional GET: the unchanged feeds answered 304
    assert third.count("not-modified") == 2


async def test_a_broken_feed_does_not_stop_the_cycle(
        deps: PipelineDeps, server: FeedServer) -> None:
    await run_cycle(deps, NOW)
    server.set_fault("/b.xml", Fault.http_status(503, headers={"Retry-After": "600"}))
    server.publish("/a.xml", entry(5, "Trade war escalates"))
    report = await run_cycle(deps, NOW + timedelta(minutes=2))
    assert (report.count("ok"), report.count("failed")) == (1, 1)
    assert report.items_new == 1
    states = {s.url: s for s in await feed_states(deps.engine)}
    failing = states[server.url("/b.xml")]
    assert failing.consecutive_failures == 1
    assert failing.next_poll_at is not None
    assert failing.next_poll_at >= NOW + timedelta(minutes=2) + timedelta(seconds=600)


async def test_not_a_feed_and_too_old_items(deps: PipelineDeps, server: FeedServer) -> None:
    engine = deps.engine
    await chat_store.ensure_chat(engine, 7, "private", "analyst", NOW)
    await chat_store.subscribe(engine, 7, ["tariffs"], None, NOW)
    await run_cycle(deps, NOW)
    server.set_fault("/b.xml", Fault.html_page())
    server.publish("/a.xml", entry(6, "Tariff history lesson", minutes_ago=60 * 24 * 5))
    report = await run_cycle(deps, NOW + timedelta(minutes=2))
    failed = [r for r in report.results if r.status == "failed"]
    assert len(failed) == 1 and failed[0].error and "not a feed" in failed[0].error
    assert (report.items_new, report.alerts_queued) == (1, 0)  # stored, too old to alert


async def test_drain_handles_flood_control_and_gone_chats(
        deps: PipelineDeps, server: FeedServer) -> None:
    engine = deps.engine
    for chat in (1, 2):
        await chat_store.ensure_chat(engine, chat, "private", "x", NOW)
        await chat_store.subscribe(engine, chat, ["tariffs"], None, NOW)
    await run_cycle(deps, NOW)
    server.publish("/a.xml", entry(7, "New tariffs announced"))
    await run_cycle(deps, NOW + timedelta(minutes=2))
    later = NOW + timedelta(minutes=2)
    sender = RecordingSender(script={
        1: [RetryLater(timedelta(seconds=30), "429", flood=True)],
        2: [ChatGone("bot was blocked")]})
    report = await Drainer(engine, sender, deps.config).drain(later)
    assert (report.retried, report.failed, report.sent) == (1, 1, 0)
    settings = await chat_store.chat_settings(engine, 2)
    assert settings is not None and not settings.active and settings.topics == ("tariffs",)
    assert await outbox.claim_due(engine, later + timedelta(seconds=29), 10) == []
    report = await Drainer(engine, sender, deps.config).drain(later + timedelta(seconds=31))
    assert report.sent == 1 and sender.sent[0][0] == 1


async def test_permanent_redirect_moves_the_feed_temporary_does_not(
        deps: PipelineDeps, server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    server.add_feed("/new-a.xml", items=[entry(1, "Old news about tariffs on steel")])
    server.set_fault("/a.xml", Fault.redirect("/new-a.xml", 301))
    server.set_fault("/b.xml", Fault.redirect("/a.xml", 302))
    await run_cycle(deps, NOW)
    states = {s.url: s for s in await feed_states(deps.engine)}
    assert states[server.url("/a.xml")].fetch_url == server.url("/new-a.xml")
    assert states[server.url("/b.xml")].fetch_url is None
    before = server.request_count("/a.xml")
    await run_cycle(deps, NOW + timedelta(minutes=5), poll_all=True)
    assert server.request_count("/a.xml") == before + 1  # only b's temporary redirect
    moved = [r.getMessage() for r in caplog.records if "moved permanently" in r.getMessage()]
    assert len(moved) == 1 and server.url("/new-a.xml") in moved[0]  # logged once, not per poll


async def test_a_permanent_redirect_is_kept_even_when_the_new_address_is_broken(
        deps: PipelineDeps, server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    server.serve_bytes("/broken.xml", b"<html><body>not a feed</body></html>",
                       headers={"Content-Type": "text/html"})
    server.set_fault("/a.xml", Fault.redirect("/broken.xml", 308))
    first = await run_cycle(deps, NOW)
    assert {r.url: r.status for r in first.results}[server.url("/a.xml")] == "failed"
    state = {s.url: s for s in await feed_states(deps.engine)}[server.url("/a.xml")]
    assert state.fetch_url == server.url("/broken.xml")
    await run_cycle(deps, NOW + timedelta(hours=1), poll_all=True)
    assert server.request_count("/a.xml") == 1  # the old address is not asked again
    assert len([r for r in caplog.records if "moved permanently" in r.getMessage()]) == 1


async def test_gone_feed_is_disabled_and_admins_told(deps: PipelineDeps,
                                                     server: FeedServer) -> None:
    deps.notice_chats = (99,)
    server.set_fault("/b.xml", Fault.http_status(410))
    report = await run_cycle(deps, NOW)
    assert report.count("failed") == 1
    state = {s.url: s for s in await feed_states(deps.engine)}[server.url("/b.xml")]
    assert state.disabled_reason and "410" in state.disabled_reason
    later = await run_cycle(deps, NOW + timedelta(hours=12))
    assert server.url("/b.xml") not in {r.url for r in later.results}
    due = await outbox.claim_due(deps.engine, NOW, 10)
    assert [(d.chat_id, d.kind) for d in due] == [(99, "notice")]
    assert "410 Gone" in (due[0].payload or "")


async def test_a_gone_feed_is_left_alone_by_run_once_until_enabled(
        deps: PipelineDeps, server: FeedServer) -> None:
    path = "/b.xml"
    server.set_fault(path, Fault.http_status(410))
    await run_cycle(deps, NOW)
    assert server.request_count(path) == 1
    await run_cycle(deps, NOW + timedelta(minutes=5), poll_all=True)  # run --once
    assert server.request_count(path) == 1
    server.set_fault(path, None)  # the publisher brought it back; the operator re-enables
    assert await enable_feeds(deps.engine, [server.url(path), server.url("/a.xml")]) == [
        server.url(path)]
    report = await run_cycle(deps, NOW + timedelta(minutes=6))
    assert {r.url: r.status for r in report.results}[server.url(path)] == "ok"
    state = {s.url: s for s in await feed_states(deps.engine)}[server.url(path)]
    assert state.disabled_reason is None and state.last_status == "ok"


async def test_retry_after_holds_the_feed_even_beyond_max_interval_and_for_run_once(
        deps: PipelineDeps, server: FeedServer) -> None:
    path = "/b.xml"
    await run_cycle(deps, NOW)
    server.set_fault(path, Fault.http_status(429, headers={"Retry-After": "86400"}))
    t = NOW + timedelta(minutes=5)
    await run_cycle(deps, t)
    state = {s.url: s for s in await feed_states(deps.engine)}[server.url(path)]
    assert state.hold_until == t + timedelta(days=1)  # max_interval is 6 h: the server asked
    assert state.next_poll_at is not None and state.next_poll_at >= t + timedelta(days=1)
    requests = server.request_count(path)
    await run_cycle(deps, t + timedelta(hours=7))
    await run_cycle(deps, t + timedelta(hours=7), poll_all=True)  # run --once too
    assert server.request_count(path) == requests
    server.set_fault(path, None)
    later = t + timedelta(days=1, minutes=1)
    report = await run_cycle(deps, later)
    assert {r.url: r.status for r in report.results}[server.url(path)] == "not-modified"
    state = {s.url: s for s in await feed_states(deps.engine)}[server.url(path)]
    assert state.hold_until is None and state.consecutive_failures == 0


async def test_failing_feed_is_flagged_once_and_recovery_reported_once(
        deps: PipelineDeps, server: FeedServer) -> None:
    deps.notice_chats = (99,)
    server.set_fault("/b.xml", Fault.http_status(500))
    t = NOW
    for _ in range(7):  # flag_after_failures defaults to 5
        await run_cycle(deps, t, poll_all=True)
        t += timedelta(hours=1)
    server.set_fault("/b.xml", None)
    await run_cycle(deps, t, poll_all=True)
    await run_cycle(deps, t + timedelta(hours=1), poll_all=True)
    notices = [d.payload or "" for d in await outbox.claim_due(deps.engine, t, 20)]
    assert len([n for n in notices if "is failing" in n]) == 1
    assert len([n for n in notices if "works again" in n]) == 1


async def test_publisher_ttl_and_adaptive_interval_are_stored(
        deps: PipelineDeps, server: FeedServer) -> None:
    server.add_feed("/a.xml", items=[entry(1, "x")], ttl=timedelta(minutes=30))
    await run_cycle(deps, NOW)
    state = {s.url: s for s in await feed_states(deps.engine)}[server.url("/a.xml")]
    assert state.interval == timedelta(minutes=30)  # the publisher's ttl is a floor
    assert state.next_poll_at is not None
    assert NOW + timedelta(minutes=27) <= state.next_poll_at <= NOW + timedelta(minutes=33)


async def test_the_publisher_hint_holds_across_304s_until_a_document_drops_it(
        deps: PipelineDeps, server: FeedServer) -> None:
    url = server.url("/a.xml")
    server.add_feed("/a.xml", items=[entry(1, "x")], ttl=timedelta(minutes=30))
    await run_cycle(deps, NOW)
    t = NOW
    for _ in range(2):  # 304s carry no <ttl>: the stored hint still applies
        t += timedelta(minutes=35)
        report = await run_cycle(deps, t)
        assert {r.url: r.status for r in report.results}[url] == "not-modified"
        state = {s.url: s for s in await feed_states(deps.engine)}[url]
        assert state.interval == timedelta(minutes=30)
        assert state.next_poll_at is not None
        assert t + timedelta(minutes=27) <= state.next_poll_at <= t + timedelta(minutes=33)
    server.add_feed("/a.xml", items=[entry(1, "x"), entry(2, "y")])  # no <ttl> any more
    t += timedelta(minutes=35)
    await run_cycle(deps, t)
    state = {s.url: s for s in await feed_states(deps.engine)}[url]
    assert state.hint is None and state.interval is not None
    assert state.interval < timedelta(minutes=30)



async def test_an_absurd_ttl_is_stored_bounded_on_every_database(
        deps: PipelineDeps, server: FeedServer) -> None:
    """<ttl>99999999</ttl> (190 years) would not fit PostgreSQL's integer column and
    would lose the whole cycle's batch of feed rows with it."""
    server.add_feed("/a.xml", items=[entry(1, "x")], ttl=timedelta(minutes=99_999_999))
    await run_cycle(deps, NOW)
    report = await run_cycle(deps, NOW + timedelta(hours=7), poll_all=True)
    assert {r.status for r in report.results} == {"not-modified"}
    states = {s.url: s for s in await feed_states(deps.engine)}
    a, b = states[server.url("/a.xml")], states[server.url("/b.xml")]
    assert a.hint == timedelta(days=30) and a.interval == deps.config.polling.max_interval
    assert a.polls == b.polls == 2  # both rows of the batch were written


async def test_a_304s_cache_control_counts_as_a_hint(deps: PipelineDeps,
                                                     server: FeedServer) -> None:
    url = server.url("/a.xml")
    items = [entry(1, "Old news about tariffs on steel"), entry(2, "Football results")]
    server.add_feed("/a.xml", items=items, modified_at=NOW - timedelta(hours=1))
    await run_cycle(deps, NOW)
    # the same document (same validators), now served with a Cache-Control
    server.add_feed("/a.xml", items=items, modified_at=NOW - timedelta(hours=1),
                    headers={"Cache-Control": "max-age=2700"})
    report = await run_cycle(deps, NOW + timedelta(minutes=5))
    assert {r.url: r.status for r in report.results}[url] == "not-modified"
    state = {s.url: s for s in await feed_states(deps.engine)}[url]
    assert state.interval == timedelta(minutes=45) and state.hint is None


async def test_matched_items_get_the_article_text_when_enabled(
        deps: PipelineDeps, server: FeedServer) -> None:
    from bot.feeds.article import ArticleFetcher, ArticleSettings, article_limits
    from bot.store.search import search

    server.serve_bytes("/story.html", ARTICLE.read_bytes(),
                       headers={"Content-Type": "text/html; charset=utf-8"})
    await run_cycle(deps, NOW)  # seed
    server.publish("/a.xml", FeedEntry(
        guid="urn:art", title="New tariffs explained", link=server.url("/story.html"),
        summary="Tariffs…", published=NOW - timedelta(minutes=1)))
    settings = ArticleSettings(enabled=True)
    async with Fetcher(article_limits(settings)) as article_fetcher:
        deps.articles = ArticleFetcher(article_fetcher, settings, lambda: NOW)
        await run_cycle(deps, NOW + timedelta(minutes=2))
        await deps.articles.aclose()
    assert server.request_count("/story.html") == 1
    [item] = await search(deps.engine, "explained")
    assert item.title == "New tariffs explained"
    async with deps.engine.connect() as conn:
        from sqlalchemy import text

        summary = (await conn.execute(text(
            "SELECT summary FROM items WHERE guid = 'urn:art'"))).scalar_one()
    assert len(summary) > 50 and summary != "Tariffs…"


async def test_a_seeded_feeds_row_is_written_in_the_cycles_batch(
        deps: PipelineDeps, server: FeedServer) -> None:
    await run_cycle(deps, NOW)
    [before] = [s for s in await feed_states(deps.engine) if s.url.endswith("/a.xml")]
    server.publish("/a.xml", entry(5, "Tariff truce extended"))
    report = await run_cycle(deps, NOW + timedelta(minutes=2))
    assert report.items_new == 1
    [after] = [s for s in await feed_states(deps.engine) if s.url.endswith("/a.xml")]
    assert after.item_count == before.item_count + 1
    assert after.polls == before.polls + 1 and after.last_status == "ok"
    assert after.last_new_item_at == NOW + timedelta(minutes=2)
    assert after.etag and after.etag != before.etag
    assert after.next_poll_at is not None and after.next_poll_at > NOW + timedelta(minutes=2)


async def test_a_lost_batch_leaves_items_stored_and_the_feed_due(
        deps: PipelineDeps, server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.pipeline as pipeline

    await run_cycle(deps, NOW)
    server.publish("/a.xml", entry(6, "New tariffs on chips"))

    async def store_down(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "save_feed_updates", store_down)
    lost = await run_cycle(deps, NOW + timedelta(minutes=2))
    a = next(r for r in lost.results if r.url.endswith("/a.xml"))
    assert a.status == "failed" and "disk full" in (a.error or "") and a.new_items == 1
    monkeypatch.undo()
    # The row kept its old validators and poll time: polled again, the item is known.
    again = await run_cycle(deps, NOW + timedelta(minutes=4))
    assert again.count("failed") == 0 and again.items_new == 0
    [state] = [s for s in await feed_states(deps.engine) if s.url.endswith("/a.xml")]
    assert state.last_status == "ok"


async def test_a_feed_served_as_html_whose_items_are_all_known_is_not_failing(
        deps: PipelineDeps, server: FeedServer) -> None:
    """feedparser notes "not an XML content type" on every version of such a feed; when
    incremental parsing cuts every (known) item out, that note must not read as a
    broken document."""
    def document(build: str) -> bytes:
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>A</title>'
                f"<lastBuildDate>{build}</lastBuildDate>"
                "<item><title>Tariff talks</title><link>https://news.example/t</link>"
                "<guid>urn:t</guid></item></channel></rss>").encode()

    server.serve_bytes("/a.xml", document("Fri, 27 Nov 2026 06:00:00 +0000"),
                       headers={"Content-Type": "text/html"}, etag=False)
    await run_cycle(deps, NOW)
    server.serve_bytes("/a.xml", document("Fri, 27 Nov 2026 07:00:00 +0000"),
                       headers={"Content-Type": "text/html"}, etag=False)
    report = await run_cycle(deps, NOW + timedelta(minutes=2))
    a = next(r for r in report.results if r.url.endswith("/a.xml"))
    assert (a.status, a.new_items) == ("ok", 0)
    [state] = [s for s in await feed_states(deps.engine) if s.url.endswith("/a.xml")]
    assert state.consecutive_failures == 0


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("text/html", b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title>'
                  b"</channel></rss>", "ok"),
    (None, b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Quiet</title></feed>', "ok"),
    ("text/html", b"<html><body><p>Our feeds moved</p></body></html>", "failed"),
    ("application/xml", b'<?xml version="1.0"?><rss version="2.0"><channel><title>x',
     "failed"),
])
async def test_a_quiet_feed_is_not_a_broken_one(
        deps: PipelineDeps, server: FeedServer, content_type: str | None, body: bytes,
        status: str) -> None:
    """A well-formed feed with no items is a quiet feed, whatever its Content-Type:
    feedparser's note about the type must not make it back off and be flagged."""
    headers = {"Content-Type": content_type} if content_type else {}
    server.serve_bytes("/a.xml", body, headers=headers)
    report = await run_cycle(deps, NOW)
    assert {r.url: r.status for r in report.results}[server.url("/a.xml")] == status
