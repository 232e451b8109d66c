"""The service's resources and jobs: the store, fetcher, pipeline, drainer,
digests, config reload and the PTB Application, wired together with a clean open
and close. Each job guards itself with a lock so it never overlaps itself.

What runs when (APScheduler) is bot.scheduler's concern; this module must not
schedule anything itself.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import AIORateLimiter, Application

from bot import __version__
from bot.config import AppConfig
from bot.config_watch import ConfigWatcher, Rejected
from bot.delivery.outbox import Drainer, DrainReport
from bot.delivery.telegram import ConsoleSender, Sender, TelegramSender
from bot.digest_runner import run_digests
from bot.errors import StartupError
from bot.feeds.article import ArticleFetcher, article_limits
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.feeds.incremental import SeenItemsMemory
from bot.ops.health import decide_health
from bot.ops.heap import freeze_survivors, settle_heap, sweep_frozen
from bot.ops.metrics import Metrics
from bot.pipeline import CycleReport, PipelineDeps, restore_stories, run_cycle
from bot.store import chats as chat_store
from bot.store import lease
from bot.store.engine import create_engine, migrate, safe_url
from bot.store.feeds import feed_states, sync_feeds
from bot.store.ingest import Notice, enqueue_notices
from bot.store.outbox import queue_length, release_in_flight
from bot.store.retention import PruneReport, prune
from bot.stories import StoryGrouper
from bot.telegram_ui.app import build_application, register_commands
from bot.telegram_ui.base import CommandContext

log = logging.getLogger(__name__)

SEND_BURST = 5
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")

@dataclass(frozen=True, slots=True)
class Settings:
    """What the environment decides (the CLI reads it; nothing below does)."""

    database_url: str
    telegram_token: str | None
    telegram_api_url: str
    webhook_secret: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


class Service:
    def __init__(self, config: AppConfig, settings: Settings,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.settings = settings
        self.clock = clock
        self.engine: AsyncEngine = create_engine(settings.database_url)
        self.fetcher = Fetcher(FetchLimits(
            timeout=config.polling.timeout, max_body_bytes=config.polling.max_body_bytes,
            max_concurrency=config.polling.max_concurrency, per_host=config.polling.per_host,
            **({"user_agent": config.polling.user_agent} if config.polling.user_agent else {})))
        self.grouper = StoryGrouper()
        self.seen_items = SeenItemsMemory()
        # Article pages get their own client: their caps differ, and they must not use up
        # the feeds' per-host politeness budget.
        article = config.article
        self.article_fetcher = Fetcher(article_limits(article)) if article.enabled else None
        self.articles = (ArticleFetcher(self.article_fetcher, article, clock)
                         if self.article_fetcher is not None else None)
        self._cycle_lock = asyncio.Lock()
        self._drain_lock = asyncio.Lock()
        self._digest_lock = asyncio.Lock()
        self.app: Application | None = None  # type: ignore[type-arg]
        self.command_ctx: CommandContext | None = None
        self.watcher = ConfigWatcher(config.path) if config.path else None
        self.queue = 0
        self.metrics = Metrics(topics=config.topic_slugs)
        self.last_cycle_at: datetime | None = None
        self.last_drain_at: datetime | None = None
        self.drainer: Drainer | None = None
        self.last_cycle: CycleReport | None = None
        self.holder = lease.new_holder()
        self._leased = False
        self.stop_event: asyncio.Event | None = None
        # Operator notices go to the configured admins' private chats, or to stdout.
        self.notice_chats: tuple[int, ...] = (
            tuple(sorted(config.admins)) if settings.telegram_token
            else (chat_store.CONSOLE_CHAT_ID,))

    # ---- start / stop -----------------------------------------------------------
    async def open(self) -> None:
        revision = await migrate(self.engine)
        log.info("database %s at schema revision %s", safe_url(self.settings.database_url),
                 revision)
        await lease.acquire(self.engine, self.holder, self.clock())
        self._leased = True
        await sync_feeds(self.engine, [(f.url, f.name) for f in self.config.feeds])
        await self._restore_stories()
        released = await release_in_flight(self.engine)
        if released:
            log.warning("%d deliveries were in flight at the last stop; they will be re-sent",
                        released)
        await self._route_channels()
        sender: Sender
        if self.settings.telegram_token:
            ctx = CommandContext(engine=self.engine, config=self.config, clock=self.clock,
                                 version=__version__, status=self.status_info)
            self.command_ctx = ctx
            self.app = build_application(
                self.settings.telegram_token, self.settings.telegram_api_url, ctx,
                # Paced a hair under Telegram's limit, in bursts of at most 5: two buckets of
                # exactly 30/s (ours and Telegram's) leave no room for jitter, and bench/
                # fanout.py saw 429s at the start of a fan-out with bursts of 30.
                AIORateLimiter(overall_max_rate=SEND_BURST,
                               overall_time_period=SEND_BURST / self.config.delivery.max_per_second,
                               max_retries=0))
            await self._initialize_telegram(self.app)
            await register_commands(self.app)
            sender = TelegramSender(self.app.bot)
            self.drainer = Drainer(self.engine, sender, self.config)
        else:
            log.info("no TELEGRAM_BOT_TOKEN: alerts for every topic print to stdout")
            await self._console_chat()
            self.drainer = Drainer(self.engine, ConsoleSender(), self.config, plain_text=True)
        log.debug("start-up done; %d objects moved out of the collector's reach", settle_heap())

    async def _initialize_telegram(self, app: Application) -> None:  # type: ignore[type-arg]
        """getMe until Telegram answers: a network outage at start delays the bot,
        a wrong token stops it with a clear message."""
        delay = 1.0
        while True:
            try:
                await app.initialize()
                return
            except InvalidToken as exc:
                raise StartupError("Telegram rejected TELEGRAM_BOT_TOKEN (check it with "
                                   f"BotFather): {exc.message}") from None
            except NetworkError as exc:
                log.warning("cannot reach the Telegram Bot API (%s); retrying in %.0fs",
                            exc.message, delay)
                if self.stop_event is not None and self.stop_event.is_set():
                    raise StartupError("stopped while waiting for Telegram") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def _restore_stories(self) -> None:
        restored = await restore_stories(self.engine, self.grouper, self.clock())
        if restored:
            log.info("story window restored: %d recent items", restored)

    async def _route_channels(self) -> None:
        """Channels follow exactly the topics the operator routes to them in the config."""
        now = self.clock()
        for channel in self.config.channels:
            await chat_store.ensure_chat(self.engine, channel.chat_id, "channel", channel.name,
                                         now)
            await chat_store.set_subscriptions(self.engine, channel.chat_id, channel.topics, now)

    async def _console_chat(self) -> None:
        now = self.clock()
        await chat_store.ensure_chat(self.engine, chat_store.CONSOLE_CHAT_ID, "console",
                                     "console", now)
        await chat_store.subscribe(self.engine, chat_store.CONSOLE_CHAT_ID,
                                   list(self.config.topic_slugs), None, now)

    async def close(self) -> None:
        await self.fetcher.aclose()
        if self.articles is not None and self.article_fetcher is not None:
            await self.articles.aclose()
            await self.article_fetcher.aclose()
        if self.app is not None and self.app._initialized:  # PTB has no public flag
            await self.app.shutdown()
        if self._leased:
            await lease.release(self.engine, self.holder)
        await self.engine.dispose()

    async def renew_lease(self) -> None:
        if not await lease.renew(self.engine, self.holder, self.clock()):
            # Someone else holds the database now: stop before two of us send.
            log.error("lost the instance lease on this database; stopping")
            if self.stop_event is not None:
                self.stop_event.set()

    # ---- jobs -------------------------------------------------------------------
    async def poll(self, poll_all: bool = False) -> CycleReport | None:
        if self._cycle_lock.locked():
            return None  # a cycle never overlaps itself
        async with self._cycle_lock:
            deps = PipelineDeps(self.engine, self.fetcher, self.config, self.grouper,
                                articles=self.articles, notice_chats=self.notice_chats,
                                seen_items=self.seen_items)
            report = await run_cycle(deps, self.clock(), poll_all=poll_all)
            self.last_cycle = report
            self.last_cycle_at = self.clock()
            self.metrics.observe_cycle(report, finished_at=self.last_cycle_at)
            for result in report.results:
                if result.fetch_seconds is not None:
                    self.metrics.observe_fetch(result.fetch_seconds)
                self.metrics.observe_matches(result.matched_topics)
            if report.results:
                log.info("%s", report.summary())
                log.debug("%d objects frozen after the cycle", freeze_survivors())
        if report.alerts_queued:
            await self.drain()
        return report

    async def digests(self) -> int:
        """Record every digest whose time has come (each chat in its own zone)."""
        if self._digest_lock.locked():
            return 0
        async with self._digest_lock:
            queued = await run_digests(self.engine, self.config, self.clock())
        if queued:
            await self.drain()
        return queued

    def status_info(self) -> dict[str, object]:
        """Figures for an admin's /status (cached by the jobs: no I/O here)."""
        info: dict[str, object] = {"version": __version__, "feeds": len(self.config.feeds),
                                   "topics": len(self.config.topics)}
        if self.last_cycle is not None:
            report = self.last_cycle
            info["last cycle"] = (f"{report.started_at:%Y-%m-%d %H:%M:%S}Z: "
                                  f"{report.count('ok') + report.count('not-modified')} ok, "
                                  f"{report.count('failed')} failed")
        info["queue"] = self.queue
        return info

    async def reload_config(self) -> bool:
        """Apply a changed config file; a broken one is rejected and reported once."""
        if self.watcher is None:
            return False
        result = self.watcher.check()
        if result is None:
            return False
        if isinstance(result, Rejected):
            log.error("config change rejected, the previous config stays in force:\n%s",
                      result.error)
            if result.new:
                await self._notify(f"config-rejected:{self.clock().isoformat()}",
                                   "⚠️ The config change was rejected; the previous config "
                                   f"stays in force:\n<code>{html.escape(result.error[:1500])}"
                                   "</code>")
            return False
        await self._apply(result)
        return True

    async def _apply(self, new: AppConfig) -> None:
        old = self.config
        removed = [t for t in old.topics if new.topic(t.slug) is None]
        added = [t.slug for t in new.topics if old.topic(t.slug) is None]
        now = self.clock()
        for topic in removed:
            followers = await chat_store.drop_topic(self.engine, topic.slug)
            async with self.engine.begin() as conn:
                await enqueue_notices(conn, [Notice(
                    chat, f"topic-removed:{topic.slug}:{now.isoformat()}",
                    f"ℹ️ The topic <b>{html.escape(topic.name)}</b> was removed by the "
                    "operator, so you no longer follow it. /topics shows what there is.")
                    for chat, _ in followers if chat != chat_store.CONSOLE_CHAT_ID], now)
        await sync_feeds(self.engine, [(f.url, f.name) for f in new.feeds])
        self.config = new
        if self.command_ctx is not None:
            self.command_ctx.config = new
        if self.drainer is not None:
            self.drainer.config = new
        await self._route_channels()
        if not self.settings.telegram_token:
            await self._console_chat()
        log.info("config reloaded: %d feeds, %d topics (added: %s; removed: %s)",
                 len(new.feeds), len(new.topics), ", ".join(added) or "none",
                 ", ".join(t.slug for t in removed) or "none")

    async def _notify(self, key: str, text: str) -> None:
        now = self.clock()
        async with self.engine.begin() as conn:
            await enqueue_notices(conn, [Notice(chat, key, text) for chat in self.notice_chats],
                                  now)

    def health(self) -> tuple[bool, dict[str, object]]:
        http = self.config.http
        return decide_health(self.last_cycle_at, self.last_drain_at, self.clock(),
                             http.max_cycle_age, http.max_drain_age)

    async def metrics_text(self) -> bytes:
        enabled = [f.url for f in self.config.feeds if f.enabled]
        self.metrics.set_feed_states(await feed_states(self.engine, enabled))
        return self.metrics.render()

    async def prune(self) -> PruneReport:
        """Daily retention: old items and settled deliveries go, dedupe keys stay."""
        retention = self.config.retention
        try:
            report = await prune(self.engine, self.clock(), retention.keep_items,
                                 retention.keep_keys)
            log.info("retention: %s", report.summary())
            return report
        finally:
            # Also when pruning failed; and never in the middle of a poll cycle, whose
            # objects in use would be frozen again and which the pause would stall.
            async with self._cycle_lock:
                log.info("heap: %d unreachable objects collected", sweep_frozen())

    async def drain(self) -> DrainReport | None:
        if self.drainer is None or self._drain_lock.locked():
            return None
        async with self._drain_lock:
            report = await self.drainer.drain(self.clock(), stop_requested=self.stopping,
                                              clock=self.clock)
            self.queue = await queue_length(self.engine)
            self.last_drain_at = self.clock()
            self.metrics.observe_drain(report, finished_at=self.last_drain_at)
            self.metrics.observe_rate_limited(report.rate_limited)
            for published_at, first_seen_at in report.delivered:
                self.metrics.observe_delivery(published_at, first_seen_at, self.last_drain_at)
            self.metrics.set_queue(self.queue)
            if report.sent or report.failed or report.dropped:
                log.info("outbox: %d sent, %d retried, %d failed, %d dropped", report.sent,
                         report.retried, report.failed, report.dropped)
            return report

    # ---- modes ------------------------------------------------------------------
    async def open_or_close(self) -> None:
        try:
            await self.open()
        except BaseException:
            await self.close()
            raise

    async def run_once(self) -> CycleReport:
        """`newsbot run --once`: poll every feed, deliver what is due, return."""
        await self.open_or_close()
        try:
            report = await self.poll(poll_all=True)
            await self.drain()
            assert report is not None
            return report
        finally:
            await self.close()

    def stopping(self) -> bool:
        return self.stop_event is not None and self.stop_event.is_set()

    async def finish_in_flight(self, grace: timedelta) -> None:
        """Wait (bounded) for a running cycle, digest run and drain to finish."""
        async def wait_all() -> None:
            async with self._cycle_lock, self._digest_lock, self._drain_lock:
                pass

        try:
            await asyncio.wait_for(wait_all(), grace.total_seconds())
        except TimeoutError:
            log.warning("in-flight work did not finish in %s; rows in flight are released "
                        "on the next start", grace)

    async def start_telegram(self) -> None:
        if self.app is None:
            return
        await self.app.start()
        assert self.app.updater is not None
        webhook = self.config.webhook
        if webhook is None:
            await self.app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
            return
        secret = self.settings.webhook_secret or ""
        if not WEBHOOK_SECRET.fullmatch(secret):
            raise StartupError("webhook mode needs TELEGRAM_WEBHOOK_SECRET: 1-256 characters "
                               "of A-Z, a-z, 0-9, _ and -")
        # PTB's webhook server checks X-Telegram-Bot-Api-Secret-Token on every request
        # and answers 403 when it is missing or wrong.
        await self.app.updater.start_webhook(
            listen=webhook.host, port=webhook.port, url_path=webhook.path,
            webhook_url=webhook.url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
        log.info("receiving updates by webhook on %s:%d/%s", webhook.host, webhook.port,
                 webhook.path)

    async def stop_telegram(self) -> None:
        if self.app is not None and self.app.running:
            if self.app.updater is not None and self.app.updater.running:
                await self.app.updater.stop()
            await self.app.stop()
