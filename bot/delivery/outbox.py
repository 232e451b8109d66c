"""The outbox drainer: claim due deliveries, apply the chat's settings, render,
send, mark.

Every message goes through here. Chats are served concurrently (each chat's
messages in order); the PTB rate limiter paces the global and group limits.
A failure is handled by what it means: a 429 holds that chat's queue for exactly
retry_after, a network error retries with backoff, a blocked chat is
deactivated, a migrated group is followed, content Telegram rejects is resent
once as plain text. Nothing is dropped silently: a drop (too old, too many
attempts) or a skip (paused, muted) is logged with its reason and kept in the table.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.chat_settings import is_muted, quiet_hours_from_db
from bot.config import AppConfig
from bot.delivery.batch import render_batch, render_batch_plain
from bot.delivery.render import ENGLISH, render_alert, render_alert_plain
from bot.delivery.telegram import (
    Button,
    Buttons,
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
from bot.summary import html_to_text

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
BATCH_AFTER = 3  # more alerts than this due for one chat at once go out as one list
CHAT_CONCURRENCY = 32  # chats served at once; the rate limiter paces the sends
ALERT_KINDS = ("alert", "followup")  # what pause, mutes and quiet hours apply to


@dataclass(slots=True)
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    skipped: int = 0
    held: int = 0
    rate_limited: int = 0  # 429s received
    # (published_at, first_seen_at) of each alert item sent, for latency metrics
    delivered: list[tuple[datetime | None, datetime]] = field(default_factory=list)

    def add(self, other: DrainReport) -> None:
        for name in ("sent", "retried", "failed", "dropped", "skipped", "held",
                     "rate_limited"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.delivered.extend(other.delivered)


class Drainer:
    def __init__(self, engine: AsyncEngine, sender: Sender, config: AppConfig,
                 plain_text: bool = False) -> None:
        self.engine = engine
        self.sender = sender
        self.config = config
        self.plain_text = plain_text  # console output: no markup, no buttons

    async def drain(self, now: datetime, max_batches: int = 50,
                    stop_requested: Callable[[], bool] = lambda: False,
                    clock: Callable[[], datetime] | None = None) -> DrainReport:
        """Send everything due now, a batch of rows at a time (bounded, so a huge
        queue cannot hold the loop forever; a stop request ends it between batches)."""
        total = DrainReport()
        limit = max(self.config.delivery.batch_size, CHAT_CONCURRENCY * 4)
        gate = asyncio.Semaphore(CHAT_CONCURRENCY)

        async def serve(chat_rows: list[DueDelivery]) -> DrainReport:
            async with gate:
                return await self._serve_chat(chat_rows, now)

        for _ in range(max_batches):
            if stop_requested():
                break
            if clock is not None:  # a long fan-out: judge each batch at its own time
                now = clock()
            batch = await rows.claim_due(self.engine, now, limit)
            if not batch:
                break
            by_chat: dict[int, list[DueDelivery]] = defaultdict(list)
            for delivery in batch:
                by_chat[delivery.chat_id].append(delivery)
            for report in await asyncio.gather(*(serve(r) for r in by_chat.values())):
                total.add(report)
        return total

    # ---- one chat ---------------------------------------------------------------
    async def _serve_chat(self, due: list[DueDelivery], now: datetime) -> DrainReport:
        report = DrainReport()
        chat = due[0].chat
        zone = ZoneInfo(chat.timezone or self.config.digest.timezone)
        sendable: list[DueDelivery] = []
        for d in due:
            reason = self._drop_or_skip(d, now)
            if reason is None:
                sendable.append(d)
                continue
            status, why = reason
            log.info("delivery %d to chat %d %s: %s", d.id, d.chat_id, status, why,
                     extra=_context(d))
            await rows.mark_failed(self.engine, d.id, why, status=status)
            setattr(report, status, getattr(report, status) + 1)
        quiet = quiet_hours_from_db(chat.quiet_hours)
        if quiet and quiet.contains(now.astimezone(zone).time()):
            held = [d for d in sendable if d.kind in ALERT_KINDS and d.item is not None]
            if held:
                until = quiet.end_after(now, zone)
                await rows.defer_rows(self.engine, [d.id for d in held], until, "quiet hours")
                report.held += len(held)
                sendable = [d for d in sendable if d not in held]
        alerts = [d for d in sendable if d.kind == "alert" and d.item is not None]
        if len(alerts) > BATCH_AFTER:
            outcome = await self._send_batch(alerts, zone, now)
            report.add(outcome)
            if outcome.sent == 0:
                return report  # the chat is held, gone or moved: the rest waits too
            sendable = [d for d in sendable if d not in alerts]
        for d in sendable:
            outcome = await self._deliver(d, zone, now)
            report.add(outcome)
            if outcome.sent == 0 and (outcome.retried or outcome.failed):
                # One failure for a chat (flood, gone, moved) holds its other rows as well:
                # release them for the next drain rather than hammering a chat that said no.
                rest = [r.id for r in sendable[sendable.index(d) + 1:]]
                if rest:
                    await rows.defer_rows(self.engine, rest, now + timedelta(seconds=1),
                                          "held behind a failed message")
                break
        return report

    def _drop_or_skip(self, d: DueDelivery, now: datetime) -> tuple[str, str] | None:
        """("dropped"|"skipped", reason) for a row that must not be sent, else None."""
        if now - d.created_at > self.config.delivery.max_age and d.kind != "notice":
            return "dropped", (f"older than {self.config.delivery.max_age} "
                               f"(created {d.created_at:%Y-%m-%d %H:%M}Z)")
        if d.kind not in ALERT_KINDS or d.item is None:
            return None
        if d.chat.paused_until is not None and d.chat.paused_until > now:
            return "skipped", f"chat paused until {d.chat.paused_until:%Y-%m-%d %H:%M}Z"
        term = is_muted(d.item.title, d.item.summary, d.chat.mutes)
        if term is not None:
            return "skipped", f"muted term {term!r}"
        return None

    def _alert(self, d: DueDelivery) -> Alert:
        assert d.item is not None
        names = tuple((t.name if (t := self.config.topic(s)) else s) for s in d.topics)
        return Alert(title=d.item.title, url=d.item.url, source=d.item.source,
                     summary=d.item.summary, published_at=d.item.published_at, topics=names,
                     highlight_terms=d.highlight_terms, also_reported_by=d.also_reported_by)

    def _buttons(self, d: DueDelivery) -> Buttons:
        if self.plain_text or d.item is None:
            return ()
        row: list[Button] = []
        if d.item.url and d.item.url.startswith(("http://", "https://")):
            row.append(Button(ENGLISH.open_button, url=d.item.url))
        if d.topics:
            row.append(Button(ENGLISH.mute_button, data=f"m:{d.topics[0]}"))
        if d.item_id is not None:
            row.append(Button(ENGLISH.why_button, data=f"w:{d.item_id}"))
        return (tuple(row),) if row else ()

    async def _edit(self, d: DueDelivery, zone: ZoneInfo, now: datetime) -> DrainReport:
        """Re-render the story's original alert with every outlet known now."""
        message_id = _payload_int(d.payload, "message_id")
        chunks = render_alert(self._alert(d), zone) if d.item is not None else []
        if message_id is None or len(chunks) != 1 or self.plain_text:
            # A console line cannot be changed, and a split alert is not edited in parts.
            await rows.mark_failed(self.engine, d.id, "not editable", status="skipped")
            return DrainReport(skipped=1)
        outcome = await self.sender.edit(d.chat_id, message_id, chunks[0], html=True,
                                         preview=d.chat.link_preview, buttons=self._buttons(d))
        if isinstance(outcome, Sent):
            await rows.settle_edit(self.engine, d.id, now)
            return DrainReport(sent=1)
        if isinstance(outcome, Rejected):  # deleted, too old to edit: leave it be
            log.info("edit %d of message %d in chat %d not possible: %s", d.id, message_id,
                     d.chat_id, outcome.reason)
            await rows.mark_failed(self.engine, d.id, outcome.reason, status="skipped")
            return DrainReport(skipped=1)
        return await self._settle([d], outcome, now)

    async def _deliver(self, d: DueDelivery, zone: ZoneInfo, now: datetime) -> DrainReport:
        if d.kind == "edit":
            return await self._edit(d, zone, now)
        reply_to = _payload_int(d.payload, "message_id") if d.kind == "followup" else None
        if d.kind == "digest":
            html_chunks, plain_chunks = _digest_chunks(d.payload)
        elif d.item is None:
            text = d.payload or ""
            html_chunks, plain_chunks = [text], [html_to_text(text)]
        else:
            alert = self._alert(d)
            html_chunks, plain_chunks = render_alert(alert, zone), render_alert_plain(alert, zone)
        preview = d.chat.link_preview
        buttons = self._buttons(d)
        outcome = await self._send_all(d, plain_chunks if self.plain_text else html_chunks,
                                       html=not self.plain_text, preview=preview,
                                       buttons=buttons, reply_to=reply_to)
        if isinstance(outcome, Rejected) and outcome.bad_markup and not self.plain_text:
            log.error("delivery %d (item %s): Telegram rejected the HTML (%s); resending as "
                      "plain text", d.id, d.item.key if d.item else "-", outcome.reason)
            outcome = await self._send_all(d, plain_chunks, html=False, preview=preview,
                                           buttons=buttons, reply_to=reply_to)
        return await self._settle([d], outcome, now)

    async def _send_batch(self, alerts: Sequence[DueDelivery], zone: ZoneInfo,
                          now: datetime) -> DrainReport:
        items = [self._alert(d) for d in alerts]
        first = alerts[0]
        chunks = (render_batch_plain(items, zone) if self.plain_text
                  else render_batch(items, zone))
        outcome = await self._send_all(first, chunks, html=not self.plain_text, preview=False,
                                       buttons=())
        if isinstance(outcome, Rejected) and outcome.bad_markup and not self.plain_text:
            outcome = await self._send_all(first, render_batch_plain(items, zone), html=False,
                                           preview=False, buttons=())
        return await self._settle(list(alerts), outcome, now)

    async def _send_all(self, d: DueDelivery, chunks: list[str], *, html: bool, preview: bool,
                        buttons: Buttons, reply_to: int | None = None) -> SendOutcome:
        first: SendOutcome | None = None
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            outcome = await self.sender.send(d.chat_id, chunk, html=html, thread_id=d.thread_id,
                                             preview=preview and n == 0,
                                             buttons=buttons if last else (),
                                             reply_to=reply_to if n == 0 else None)
            if not isinstance(outcome, Sent):
                return outcome
            first = first or outcome
        return first or Sent(None)

    async def _settle(self, ds: list[DueDelivery], outcome: SendOutcome,
                      now: datetime) -> DrainReport:
        d = ds[0]
        ids = [x.id for x in ds]
        match outcome:
            case Sent(message_id):
                await rows.mark_many(self.engine, ids, "sent", now, message_id=message_id)
                return DrainReport(sent=len(ds), delivered=[
                    (x.item.published_at, x.item.first_seen_at) for x in ds
                    if x.item is not None and x.kind in ALERT_KINDS])
            case RetryLater(after, reason, flood) if flood:
                until = now + (after or timedelta(seconds=5))
                log.warning("chat %d: flood control, holding its queue until %s", d.chat_id,
                            until.isoformat(), extra=_context(d))
                await rows.defer_chat(self.engine, d.chat_id, until, reason)
                return DrainReport(retried=len(ds), rate_limited=1)
            case RetryLater(after, reason, _):
                if d.attempts >= self.config.delivery.max_attempts:
                    log.error("delivery %s to chat %d failed after %d attempts: %s", ids,
                              d.chat_id, d.attempts, reason)
                    await rows.mark_many(self.engine, ids, "failed", now, error=reason)
                    return DrainReport(failed=len(ds))
                delay = after or min(timedelta(seconds=5 * 2 ** (d.attempts - 1)), MAX_BACKOFF)
                for x in ds:
                    await rows.mark_retry(self.engine, x.id, now + delay, reason)
                return DrainReport(retried=len(ds))
            case ChatGone(reason):
                log.warning("chat %d is gone (%s): deactivated, subscriptions kept", d.chat_id,
                            reason, extra=_context(d))
                await chat_store.deactivate_chat(self.engine, d.chat_id, now)
                await rows.fail_chat(self.engine, d.chat_id, reason)
                return DrainReport(failed=len(ds))
            case ChatMoved(new_chat_id):
                log.info("chat %d became supergroup %d: moving settings and queue", d.chat_id,
                         new_chat_id)
                await chat_store.migrate_chat(self.engine, d.chat_id, new_chat_id, now)
                return DrainReport(retried=len(ds))
            case Rejected(reason, _):
                log.error("delivery %s (item %s) rejected by Telegram: %s", ids,
                          d.item.key if d.item else "-", reason)
                await rows.mark_many(self.engine, ids, "failed", now, error=reason)
                return DrainReport(failed=len(ds))
        raise AssertionError(f"unhandled outcome {outcome!r}")  # pragma: no cover


def _digest_chunks(payload: str | None) -> tuple[list[str], list[str]]:
    """A digest row's payload: {"html": [...], "plain": [...]} rendered when it was queued."""
    try:
        data = json.loads(payload or "{}")
        html_chunks = [str(c) for c in data.get("html", [])]
        plain_chunks = [str(c) for c in data.get("plain", [])] or html_chunks
    except (ValueError, AttributeError):
        return [], []
    return html_chunks, plain_chunks


def _payload_int(payload: str | None, key: str) -> int | None:
    try:
        value = json.loads(payload or "{}").get(key)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _context(d: DueDelivery) -> dict[str, object]:
    """The stable log keys (bot.logs): which chat, item and topic a line is about."""
    return {"chat": d.chat_id, "item": d.item.key if d.item else None,
            "topic": d.topics[0] if d.topics else None}
