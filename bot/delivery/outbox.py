"""The outbox drainer: claim due deliveries, render, send, mark.

Every message goes through here. A failure is handled by what it means: a 429
holds the chat for exactly retry_after, a network error retries with backoff, a
blocked chat is deactivated, a migrated group is followed, content Telegram
rejects is resent once as plain text. Nothing is dropped silently: a drop (too
old, too many attempts) is logged with its reason and kept in the table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import AppConfig
from bot.delivery.render import render_alert, render_alert_plain
from bot.delivery.telegram import (
    ChatGone,
    ChatMoved,
    Rejected,
    RetryLater,
    Sender,
    SendOutcome,
    Sent,
)
from bot.model import Alert
from bot.store import chats as chat_store
from bot.store import outbox as rows
from bot.store.outbox import DueDelivery

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)


@dataclass(slots=True)
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0

    def add(self, other: DrainReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.dropped += other.dropped


class Drainer:
    def __init__(self, engine: AsyncEngine, sender: Sender, config: AppConfig,
                 plain_text: bool = False) -> None:
        self.engine = engine
        self.sender = sender
        self.config = config
        self.plain_text = plain_text  # console output: no markup

    async def drain(self, now: datetime, max_batches: int = 50) -> DrainReport:
        """Send everything due now, a batch at a time (bounded, so a huge queue
        cannot hold the loop forever)."""
        total = DrainReport()
        for _ in range(max_batches):
            batch = await rows.claim_due(self.engine, now, self.config.delivery.batch_size)
            if not batch:
                break
            for delivery in batch:
                total.add(await self._deliver(delivery, now))
        return total

    async def _deliver(self, d: DueDelivery, now: datetime) -> DrainReport:
        if now - d.created_at > self.config.delivery.max_age:
            reason = (f"older than {self.config.delivery.max_age} "
                      f"(created {d.created_at:%Y-%m-%d %H:%M}Z)")
            log.warning("delivery %d to chat %d dropped: %s", d.id, d.chat_id, reason)
            await rows.mark_failed(self.engine, d.id, reason, status="dropped")
            return DrainReport(dropped=1)
        html_chunks, plain_chunks = self._render(d)
        outcome = await self._send_all(d, plain_chunks if self.plain_text else html_chunks,
                                       html=not self.plain_text)
        if isinstance(outcome, Rejected) and outcome.bad_markup and not self.plain_text:
            log.error("delivery %d (item %s): Telegram rejected the HTML (%s); resending as "
                      "plain text", d.id, d.item.key if d.item else "-", outcome.reason)
            outcome = await self._send_all(d, plain_chunks, html=False)
        return await self._settle(d, outcome, now)

    def _render(self, d: DueDelivery) -> tuple[list[str], list[str]]:
        if d.item is None:
            text = d.payload or ""
            return [text], [text]
        names = tuple((t.name if (t := self.config.topic(s)) else s) for s in d.topics)
        alert = Alert(title=d.item.title, url=d.item.url, source=d.item.source,
                      summary=d.item.summary, published_at=d.item.published_at, topics=names,
                      highlight_terms=d.highlight_terms)
        zone = ZoneInfo(self.config.digest.timezone)
        return render_alert(alert, zone), render_alert_plain(alert, zone)

    async def _send_all(self, d: DueDelivery, chunks: list[str], html: bool) -> SendOutcome:
        first: SendOutcome | None = None
        for chunk in chunks:
            outcome = await self.sender.send(d.chat_id, chunk, html=html, thread_id=d.thread_id,
                                             preview=False)
            if not isinstance(outcome, Sent):
                return outcome
            first = first or outcome
        return first or Sent(None)

    async def _settle(self, d: DueDelivery, outcome: SendOutcome, now: datetime) -> DrainReport:
        match outcome:
            case Sent(message_id):
                await rows.mark_sent(self.engine, d.id, message_id, now)
                return DrainReport(sent=1)
            case RetryLater(after, reason, flood) if flood:
                until = now + (after or timedelta(seconds=5))
                log.warning("chat %d: flood control, holding its queue until %s", d.chat_id,
                            until.isoformat())
                await rows.defer_chat(self.engine, d.chat_id, until, reason)
                return DrainReport(retried=1)
            case RetryLater(after, reason, _):
                if d.attempts >= self.config.delivery.max_attempts:
                    log.error("delivery %d to chat %d failed after %d attempts: %s", d.id,
                              d.chat_id, d.attempts, reason)
                    await rows.mark_failed(self.engine, d.id, reason)
                    return DrainReport(failed=1)
                delay = after or min(timedelta(seconds=5 * 2 ** (d.attempts - 1)), MAX_BACKOFF)
                await rows.mark_retry(self.engine, d.id, now + delay, reason)
                return DrainReport(retried=1)
            case ChatGone(reason):
                log.warning("chat %d is gone (%s): deactivated, subscriptions kept", d.chat_id,
                            reason)
                await chat_store.deactivate_chat(self.engine, d.chat_id, now)
                await rows.fail_chat(self.engine, d.chat_id, reason)
                return DrainReport(failed=1)
            case ChatMoved(new_chat_id):
                log.info("chat %d became supergroup %d: moving settings and queue", d.chat_id,
                         new_chat_id)
                await chat_store.migrate_chat(self.engine, d.chat_id, new_chat_id, now)
                return DrainReport(retried=1)
            case Rejected(reason, _):
                log.error("delivery %d (item %s) rejected by Telegram: %s", d.id,
                          d.item.key if d.item else "-", reason)
                await rows.mark_failed(self.engine, d.id, reason)
                return DrainReport(failed=1)
        raise AssertionError(f"unhandled outcome {outcome!r}")  # pragma: no cover
