"""When another outlet reports a story a chat was already alerted about: queue an
edit of the original message ("Also reported by ..."), and, when the new item
matches a topic the first did not, one follow-up as a reply.

Runs inside the poll's transaction, right after the alerts were queued. Edits
are coalesced: one pending edit per (chat, story), due a few minutes later, so
thirty outlets in an hour become a handful of edits, not thirty; the edit's
text is rendered when it is sent, with every outlet known by then.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.dialect import insert_ignore
from bot.store.schema import deliveries, items

EDIT_COALESCE = timedelta(minutes=3)
EDIT_WINDOW = timedelta(hours=24)  # after this, a story's message is left as it is


def edit_key(story_key: str) -> str:
    return f"edit:{story_key}"


async def enqueue_story_updates(conn: AsyncConnection,
                                attempted: Sequence[dict[str, object]],
                                inserted_ids: set[int], now: datetime) -> None:
    """`attempted`: the alert rows just offered to the outbox (chat_id, dedupe_key,
    item_id, topics); those not inserted met an earlier alert for the same story."""
    new_ids = inserted_ids
    by_pair = {(r["chat_id"], r["dedupe_key"]): r for r in attempted}
    if len(new_ids) >= len(by_pair):
        return  # every row went in: no chat had an alert for these stories to update
    chats = sorted({int(str(c)) for c, _ in by_pair})
    keys = sorted({str(k) for _, k in by_pair})
    originals = (await conn.execute(
        select(deliveries.c.id, deliveries.c.chat_id, deliveries.c.dedupe_key,
               deliveries.c.status, deliveries.c.message_id, deliveries.c.item_id,
               deliveries.c.topics, deliveries.c.sent_at, deliveries.c.thread_id)
        .where(deliveries.c.kind == "alert", deliveries.c.chat_id.in_(chats),
               deliveries.c.dedupe_key.in_(keys)))).all()
    # A message shared by several rows was a batched list: it is not edited per story.
    shared = {(r.chat_id, r.message_id) for r in (await conn.execute(
        select(deliveries.c.chat_id, deliveries.c.message_id)
        .where(deliveries.c.chat_id.in_(chats), deliveries.c.message_id.is_not(None))
        .group_by(deliveries.c.chat_id, deliveries.c.message_id)
        .having(func.count() > 1))).all()}
    # Who reported each story before this poll: an outlet already named in the message
    # changes nothing, and its edit would only cost a "message is not modified".
    new_items = {int(str(r["item_id"])) for r in attempted}
    outlets: dict[str, set[str]] = {}
    new_source: dict[int, str] = {}
    stories = sorted({k.removeprefix("story:") for k in keys})
    for story, item_id, source in await conn.execute(
            select(items.c.story_key, items.c.id, items.c.source)
            .where(items.c.story_key.in_(stories))):
        if item_id in new_items:
            new_source[item_id] = source
        else:
            outlets.setdefault(story, set()).add(source)
    edits, followups = [], []
    for original in originals:
        if original.id in new_ids:
            continue
        offered = by_pair.get((original.chat_id, original.dedupe_key))
        if offered is None or original.status != "sent" or original.message_id is None:
            continue  # a pending original is rendered with every outlet when it is sent
        if (original.chat_id, original.message_id) in shared:
            continue
        if original.sent_at is not None and now - original.sent_at > EDIT_WINDOW:
            continue
        story = str(original.dedupe_key).removeprefix("story:")
        payload = json.dumps({"message_id": original.message_id})
        source = new_source.get(int(str(offered["item_id"])))
        if source is None or source not in outlets.get(story, set()):
            edits.append({
                "chat_id": original.chat_id, "dedupe_key": edit_key(story), "kind": "edit",
                "item_id": original.item_id, "topics": original.topics,
                "thread_id": original.thread_id, "payload": payload, "status": "pending",
                "attempts": 0, "next_attempt_at": now + EDIT_COALESCE, "created_at": now})
        new_topics = set(str(offered["topics"]).split(",")) - set(original.topics.split(","))
        if new_topics:
            followups.append({
                "chat_id": original.chat_id, "dedupe_key": f"followup:{story}",
                "kind": "followup", "item_id": offered["item_id"],
                "topics": ",".join(sorted(new_topics)), "thread_id": original.thread_id,
                "payload": payload, "status": "pending", "attempts": 0,
                "next_attempt_at": now, "created_at": now})
    for rows in (edits, followups):
        if rows:
            await conn.execute(insert_ignore(conn, deliveries), rows)
