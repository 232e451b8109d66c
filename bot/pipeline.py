"""One poll cycle: fetch -> parse -> keys -> match -> store -> enqueue.

Owns the order of those steps and the per-feed error boundary: every feed's
outcome is a value in the cycle report; one broken feed never stops the others.
Must not: send messages (the outbox drainer does) or read the clock (`now` is
passed in).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import random
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import AppConfig, FeedConfig
from bot.feeds.article import ArticleFetcher
from bot.feeds.fetch import Fetched, Fetcher, FetchError, NotModified
from bot.feeds.incremental import IncrementalParse, SeenItems, SeenItemsMemory, parse_incrementally
from bot.feeds.parse import parse_feed
from bot.feeds.schedule import (
    Bounds,
    backoff,
    jittered,
    longest_hint,
    next_interval,
    publisher_hint,
    retry_hold,
    should_flag,
    updated_gap_average,
)
from bot.model import Item, ParsedItem
from bot.store.feeds import FeedState, FetchUpdate, due_feeds, feed_states, pollable
from bot.store.ingest import (
    FeedUpdate,
    IncomingItem,
    IngestResult,
    Notice,
    known_keys,
    save_feed_updates,
    save_poll,
)
from bot.store.search import recent_story_items
from bot.stories import (
    StoryCandidate,
    StoryGrouper,
    canonical_url,
    item_key,
    resolve_source_url,
    text_identity,
)
from bot.summary import summarize

log = logging.getLogger(__name__)

FUTURE_TOLERANCE = timedelta(hours=1)
ITEMS_PER_TURN = 8  # new items processed before the event loop gets a turn
LAUNCH_BATCH = 250  # feed polls started before the event loop gets a turn


@dataclass(slots=True)
class PipelineDeps:
    engine: AsyncEngine
    fetcher: Fetcher
    config: AppConfig
    grouper: StoryGrouper
    articles: ArticleFetcher | None = None  # [summary] fetch_article
    notice_chats: tuple[int, ...] = ()  # where operator notices go (admins, or the console)
    # Outlives cycles (the service keeps one): what each feed held when last parsed.
    seen_items: SeenItemsMemory = field(default_factory=SeenItemsMemory)


@dataclass(frozen=True, slots=True)
class FeedResult:
    url: str
    status: str  # ok | not-modified | failed
    new_items: int = 0
    alerts_queued: int = 0
    error: str | None = None
    fetch_seconds: float | None = None
    matched_topics: tuple[str, ...] = ()  # one entry per new item and topic


@dataclass(slots=True)
class CycleReport:
    started_at: datetime
    results: list[FeedResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def items_new(self) -> int:
        return sum(r.new_items for r in self.results)

    @property
    def alerts_queued(self) -> int:
        return sum(r.alerts_queued for r in self.results)

    def summary(self) -> str:
        return (f"cycle: {len(self.results)} feeds polled, {self.count('ok')} ok, "
                f"{self.count('not-modified')} not modified, {self.count('failed')} failed; "
                f"{self.items_new} new items, {self.alerts_queued} alerts queued")


async def run_cycle(deps: PipelineDeps, now: datetime, poll_all: bool = False) -> CycleReport:
    """Poll the feeds that are due (or, with `poll_all`, every feed that is neither
    disabled nor held back by a server's Retry-After) concurrently, within the
    fetcher's limits."""
    configured = {f.url: f for f in deps.config.feeds if f.enabled}
    deps.grouper.prune(now - deps.grouper.window)
    deps.seen_items.forget_all_but(set(configured))
    if poll_all:
        states = [s for s in await feed_states(deps.engine, list(configured))
                  if pollable(s, now)]
    else:
        states = await due_feeds(deps.engine, list(configured), now,
                                 limit=deps.config.polling.max_feeds_per_cycle)
    report = CycleReport(started_at=now)
    writes = CycleContext(deps.engine)
    try:
        results = await _poll_all(
            [poll_feed(deps, configured[s.url], s, now, writes) for s in states])
    finally:
        writes.close()
    try:
        await writes.flush(now)
    except Exception as exc:
        # The batched feed-row updates were lost: those feeds stay due, with their old
        # validators, and are simply polled again next time (their items, saved already,
        # are known by then). Report them as failed, not as done.
        log.error("cycle: saving %d feeds' state failed: %s: %s", len(writes.deferred),
                  type(exc).__name__, exc, exc_info=exc)
        results = [replace(r, status="failed", error=f"store: {exc!r}")
                   if isinstance(r, FeedResult) and r.url in writes.deferred else r
                   for r in results]
    for state, result in zip(states, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            # A bug, not a bad feed: log it loudly but keep the cycle going.
            log.error("feed %s: unexpected %s: %s", state.url, type(result).__name__, result,
                      exc_info=result, extra={"feed": state.url})
            report.results.append(FeedResult(state.url, "failed", error=repr(result)))
        else:
            report.results.append(result)
    return report


async def _poll_all(polls: list[Coroutine[None, None, FeedResult]]
                    ) -> list[FeedResult | BaseException]:
    """Run every feed's poll concurrently; outcomes (or exceptions) in order.

    Tasks start `LAUNCH_BATCH` at a time, the event loop getting a turn in between:
    every new task takes its first step in the same loop iteration, and 5,000 of them
    (slot, semaphores) held the loop ~60 ms in one go (bench/poll.py --stall-stacks)."""
    tasks: list[asyncio.Task[FeedResult]] = []
    try:
        for n, poll in enumerate(polls):
            if n and n % LAUNCH_BATCH == 0:
                await asyncio.sleep(0)
            tasks.append(asyncio.ensure_future(poll))
    except asyncio.CancelledError:  # cancelled while launching: stop what runs, drop the rest
        for task in tasks:
            task.cancel()
        for poll in polls[len(tasks):]:
            poll.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return await asyncio.gather(*tasks, return_exceptions=True)


class CycleContext:
    """What the feeds of one cycle share: the database writes and the parse thread.

    SQLite has one write lock per database. With every feed committing on its own,
    fifty transactions queued on that lock from fifty driver threads, and one whose next
    statement waited for a busy event loop held it for seconds: others hit busy_timeout
    ("database is locked"; 70% of a 1,000-feed first cycle failed in bench/poll.py).
    Here feeds take turns on an asyncio lock instead (PostgreSQL writers still run
    concurrently). A 304 brings no items, so its feed-row update is kept and written
    with all the others in one transaction at the end of the cycle (`flush`); so is
    the row of a seeded feed whose items were saved (executemany, not a statement
    per feed).

    Parsing runs on ONE worker thread of the cycle: feedparser holds the GIL, so more
    threads parse no faster, they only make the event loop wait longer for the GIL
    (the default executor's 6 threads gave 1.4-1.9x longer worst loop stalls).

    Each feed keeps its fetch slot (`Fetcher.slot`) until its document is parsed and saved,
    so at most `max_concurrency` documents are in memory at once: fetching
    outruns parsing and SQLite's single writer, and every fetched body waiting for its
    turn stayed in memory (a 1,000-feed first cycle's RSS rose ~47 MB in its first 4 s)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._later: list[FeedUpdate] = []
        self.deferred: set[str] = set()  # feed URLs whose update waits for `flush`
        self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-parse")

    async def parse(self, fetched: Fetched, last: SeenItems | None) -> IncrementalParse:
        return await asyncio.get_running_loop().run_in_executor(
            self._parser, parse_incrementally, fetched.body, fetched.final_url,
            fetched.content_type, last, parse_feed)

    def close(self) -> None:
        self._parser.shutdown(wait=False, cancel_futures=True)

    async def save(self, state: FeedState, update: FetchUpdate | None,
                   incoming: Sequence[IncomingItem], now: datetime, *,
                   notices: Sequence[Notice] = ()) -> IngestResult:
        async with self._lock or contextlib.nullcontext():
            return await save_poll(self.engine, state, update, incoming, now, notices=notices)

    def defer(self, later: FeedUpdate) -> None:
        """Write this feed row's update with all the others in `flush`."""
        self._later.append(later)
        self.deferred.add(later.state.url)

    async def flush(self, now: datetime) -> None:
        async with self._lock or contextlib.nullcontext():
            await save_feed_updates(self.engine, self._later, now)
        self._later = []


async def poll_feed(deps: PipelineDeps, feed: FeedConfig, state: FeedState,
                    now: datetime, writes: CycleContext | None = None) -> FeedResult:
    """Poll one feed. With `writes`, a 304's state update waits for `writes.flush()`."""
    if writes is None:
        writes = CycleContext(deps.engine)
        try:
            polled = await poll_feed(deps, feed, state, now, writes)
        finally:
            writes.close()
        await writes.flush(now)
        return polled
    async with deps.fetcher.slot(state.poll_url):
        return await _poll_in_slot(deps, feed, state, now, writes)


async def _poll_in_slot(deps: PipelineDeps, feed: FeedConfig, state: FeedState,
                        now: datetime, writes: CycleContext) -> FeedResult:
    started = time.monotonic()
    outcome = await deps.fetcher.fetch(state.poll_url, state.etag, state.last_modified,
                                       in_slot=True)
    fetch_seconds = time.monotonic() - started
    if isinstance(outcome, FetchError):
        if outcome.status == 410:
            return await _record_gone(deps, writes, feed, state, now)
        return await _record_failure(deps, writes, feed, state, now,
                                     error=f"{outcome.kind}: {outcome.message}",
                                     retry_after=outcome.retry_after)
    if outcome.moved_to and outcome.moved_to != state.poll_url:
        log.warning("feed %s moved permanently to %s; polling the new address from now on "
                    "(update the config to silence this)", feed.url, outcome.moved_to)
    if isinstance(outcome, NotModified):
        # No document: the publisher's hint is what its last document (and headers) gave,
        # or this answer's Cache-Control if it asks for longer.
        hint = longest_hint(state.hint, outcome.cache_max_age)
        interval = _interval(deps, feed, state, now, hint=hint)
        writes.defer(FeedUpdate(state, FetchUpdate(
            status="not-modified", success=True, etag=outcome.etag,
            last_modified=outcome.last_modified, error=None,
            next_poll_at=jittered(now, interval, feed.url, state.polls),
            fetch_url=outcome.moved_to, interval=interval,
            flagged=False if state.flagged_at else None),
            notices=_recovery_notices(deps, feed, state)))
        return FeedResult(feed.url, "not-modified")
    return await _ingest(deps, writes, feed, state, now, outcome=outcome,
                         fetch_seconds=fetch_seconds)


async def _ingest(deps: PipelineDeps, writes: CycleContext, feed: FeedConfig, state: FeedState,
                  now: datetime, *, outcome: Fetched, fetch_seconds: float) -> FeedResult:
    """A fetched document: parse, new items, matches, and one transaction to store them."""
    incremental = await writes.parse(outcome, deps.seen_items.get(feed.url))
    parsed = incremental.parsed
    # A broken document fails the poll, unless its items were only cut out because they
    # were seen. A quiet feed (no items) is no failure, whatever feedparser noted.
    if parsed.broken and not incremental.items_skipped:
        # A permanent redirect stays permanent whatever the new address serves.
        return await _record_failure(deps, writes, feed, state, now,
                                     error=f"parse: {parsed.problem}", moved_to=outcome.moved_to)
    if parsed.problem:
        log.info("feed %s: usable despite %s", feed.url, parsed.problem,
                 extra={"feed": feed.url})
    incoming = await _incoming(deps, feed, parsed.items, seeding=_seeding(deps, state), now=now)
    has_new = bool(incoming)
    avg_gap = (updated_gap_average(state.avg_new_gap, state.last_new_item_at, now)
               if has_new else state.avg_new_gap)
    hint = publisher_hint(parsed.ttl_minutes, parsed.update_period, outcome.cache_max_age)
    interval = _interval(deps, feed, state, now, hint=hint, avg_gap=avg_gap, has_new=has_new)
    update = FetchUpdate(
        status="ok", success=True, etag=outcome.etag, last_modified=outcome.last_modified,
        error=None, next_poll_at=jittered(now, interval, feed.url, state.polls),
        fetch_url=outcome.moved_to, interval=interval, avg_new_gap=avg_gap,
        flagged=False if state.flagged_at else None, sets_hint=True, hint=hint)
    notices = _recovery_notices(deps, feed, state)
    if state.seeded:
        # The feed row joins the cycle's batch (`flush`): a lost row update only means
        # the feed is polled again and its items are known by then. Not while seeding:
        # "seeded" must be stored with the seed items, or the next poll seeds again.
        result = (await writes.save(state, None, incoming, now) if incoming
                  else IngestResult(new_items=0, matched_items=0, alerts_queued=0))
        writes.defer(FeedUpdate(state, update, new_items=result.new_items, notices=notices))
    else:
        result = await writes.save(state, update, incoming, now, notices=notices)
    # Only now: had the save failed, the next version must be read whole again.
    deps.seen_items.remember(feed.url, incremental.seen)
    return FeedResult(feed.url, "ok", new_items=result.new_items,
                      alerts_queued=result.alerts_queued, fetch_seconds=fetch_seconds,
                      matched_topics=tuple(m.slug for i in incoming for m in i.matches))


def _interval(deps: PipelineDeps, feed: FeedConfig, state: FeedState, now: datetime, *,
              hint: timedelta | None, avg_gap: timedelta | None = None,
              has_new: bool = False) -> timedelta:
    polling = deps.config.polling
    since_last_new = None if has_new or state.last_new_item_at is None else (
        now - state.last_new_item_at)
    return next_interval(feed.interval, Bounds(polling.min_interval, polling.max_interval),
                         hint=hint, avg_new_gap=avg_gap or state.avg_new_gap,
                         since_last_new=since_last_new)


def _seeding(deps: PipelineDeps, state: FeedState) -> bool:
    return not state.seeded and deps.config.polling.seed_on_first_poll


async def _incoming(deps: PipelineDeps, feed: FeedConfig, parsed: Sequence[ParsedItem],
                    seeding: bool, now: datetime) -> list[IncomingItem]:
    summary_chars = deps.config.delivery.summary_chars
    candidates: dict[str, tuple[ParsedItem, str | None, str | None]] = {}
    for p in parsed:
        link = resolve_source_url(p.link, p.source_url)
        # Summaries are costly (HTML cleaning, sentences) and most items of a changed feed
        # are known: only a "hash:" key (no usable GUID or link) needs one to be computed.
        summary = None
        key = item_key(p.guid, link, p.title, "")
        if key.startswith("hash:"):
            summary = summarize(p.summary_html, p.content_html, max_chars=summary_chars)
            key = item_key(p.guid, link, p.title, summary)
        # Duplicate GUIDs inside one document: the first (newest) wins.
        candidates.setdefault(key, (p, link, summary))
    known = await known_keys(deps.engine, list(candidates))
    max_age = deps.config.polling.max_item_age
    out: list[IncomingItem] = []
    wanted: list[tuple[int, ParsedItem, str]] = []
    for key, (p, link, maybe_summary) in candidates.items():
        if key in known:
            continue
        if out and len(out) % ITEMS_PER_TURN == 0:
            # A new feed's 50 items (summaries, matching, story grouping) took ~70-120 ms
            # in one go: give Telegram updates and other feeds a turn now and then.
            await asyncio.sleep(0)
        summary = maybe_summary if maybe_summary is not None else summarize(
            p.summary_html, p.content_html, max_chars=summary_chars)
        published = p.published_at
        if published is not None and published > now + FUTURE_TOLERANCE:
            published = now  # a future date is a publisher's mistake; don't let it sort first
        item = Item(key=key, feed_url=feed.url, source=p.source_title or feed.name,
                    title=p.title or "(untitled)", summary=summary, url=link,
                    published_at=published, first_seen_at=now, guid=p.guid)
        matches = tuple(deps.config.matcher.match(item.title, item.summary, feed.weight))
        too_old = published is not None and published < now - max_age
        story_key = key
        if matches:
            story_key = deps.grouper.assign(StoryCandidate(
                item_id=key, title=item.title, summary=item.summary, url=link,
                source=item.source, published_at=published or now))
        identity = (canonical_url(link) if link else
                    text_identity(feed.url, item.title, item.summary, p.published_at))
        out.append(IncomingItem(item=item, canonical_url=identity,
                                story_key=story_key, matches=matches,
                                alertable=not seeding and not too_old))
        if deps.articles is not None and matches and link and not seeding and not too_old:
            wanted.append((len(out) - 1, p, link))
    if wanted and deps.articles is not None:
        await _with_articles(deps.articles, out, wanted, summary_chars)
    return out


async def _with_articles(articles: ArticleFetcher, out: list[IncomingItem],
                         wanted: Sequence[tuple[int, ParsedItem, str]],
                         summary_chars: int) -> None:
    """Fuller summaries from the article pages of new, matched items ([summary]
    fetch_article). The item key, matches and story stay as the feed text made them:
    the article only improves what the reader sees. Any failure keeps the feed text."""
    pages = await asyncio.gather(*(
        articles.text_for(link, feed_html=p.content_html or p.summary_html)
        for _, p, link in wanted))
    for (n, p, _), page in zip(wanted, pages, strict=True):
        if page:
            incoming = out[n]
            out[n] = replace(incoming, item=replace(incoming.item, summary=summarize(
                p.summary_html, page, max_chars=summary_chars)))


async def _record_failure(deps: PipelineDeps, writes: CycleContext, feed: FeedConfig,
                          state: FeedState, now: datetime, *, error: str,
                          retry_after: timedelta | None = None,
                          moved_to: str | None = None) -> FeedResult:
    failures = state.consecutive_failures + 1
    log.warning("feed %s failed (%d in a row): %s", feed.url, failures, error,
                extra={"feed": feed.url})
    polling = deps.config.polling
    bounds = Bounds(polling.min_interval, polling.max_interval)
    delay = backoff(state.interval or feed.interval, failures, bounds, retry_after,
                    spread=random.uniform(0.85, 1.0))  # noqa: S311 - jitter, not security
    hold = retry_hold(retry_after)
    flag = state.flagged_at is None and should_flag(
        failures, state.failing_since or now, now, polling.flag_after_failures,
        polling.flag_after)
    notices = [Notice(chat, f"feed-failing:{state.id}:{now.isoformat()}",
                      f"⚠️ Feed <b>{html.escape(feed.name)}</b> is failing ({failures} times in a "
                      f"row): {html.escape(error[:300])}\n{html.escape(feed.url)}")
               for chat in deps.notice_chats] if flag else []
    await writes.save(state, FetchUpdate(
        status="failed", success=False, etag=state.etag, last_modified=state.last_modified,
        error=error[:1000], next_poll_at=now + delay, flagged=True if flag else None,
        hold_until=now + hold if hold is not None else None, fetch_url=moved_to),
        [], now, notices=notices)
    return FeedResult(feed.url, "failed", error=error)


async def _record_gone(deps: PipelineDeps, writes: CycleContext, feed: FeedConfig,
                       state: FeedState, now: datetime) -> FeedResult:
    reason = f"410 Gone on {now:%Y-%m-%d %H:%M}Z"
    log.warning("feed %s is gone (410): no longer polled; `newsbot feeds --enable %s` "
                "polls it again", feed.url, feed.url, extra={"feed": feed.url})
    notices = [Notice(chat, f"feed-gone:{state.id}:{now.isoformat()}",
                      f"🛑 Feed <b>{html.escape(feed.name)}</b> answered 410 Gone and is no "
                      f"longer polled. Remove or replace it in the config (or "
                      f"<code>newsbot feeds --enable</code> it).\n"
                      f"{html.escape(feed.url)}") for chat in deps.notice_chats]
    await writes.save(state, FetchUpdate(
        status="gone", success=False, etag=state.etag, last_modified=state.last_modified,
        error=reason, next_poll_at=now + deps.config.polling.max_interval,
        disabled_reason=reason), [], now, notices=notices)
    return FeedResult(feed.url, "failed", error=reason)


def _recovery_notices(deps: PipelineDeps, feed: FeedConfig, state: FeedState) -> list[Notice]:
    if state.flagged_at is None:
        return []
    return [Notice(chat, f"feed-recovered:{state.id}:{state.flagged_at.isoformat()}",
                   f"✅ Feed <b>{html.escape(feed.name)}</b> works again.")
            for chat in deps.notice_chats]


async def restore_stories(engine: AsyncEngine, grouper: StoryGrouper, now: datetime) -> int:
    """Reload the story window after a restart, so an outlet reporting a known story
    joins it (and edits its message) instead of alerting again. Returns the count."""
    recent = await recent_story_items(engine, now - grouper.window)
    for r in recent:
        grouper.remember(StoryCandidate(
            item_id=r.key, title=r.title, summary=r.summary, url=r.url, source=r.source,
            published_at=r.published_at or r.first_seen_at), r.story_key)
    return len(recent)
