"""Chat settings, search, latest and the instance lease on both databases."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import AlreadyRunningError
from bot.model import Item, TopicMatch
from bot.store import chats as chat_store
from bot.store import lease
from bot.store.feeds import FetchUpdate, feed_states, sync_feeds
from bot.store.ingest import IncomingItem, save_poll
from bot.store.search import latest, search, search_words

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def store_items(engine: AsyncEngine, rows: list[tuple[str, str, str, tuple[str, ...]]]
                      ) -> None:
    """rows: (key, title, summary, topics); later rows are newer."""
    await sync_feeds(engine, [("http://127.0.0.1:1/f.xml", "F")])
    state = (await feed_states(engine))[0]
    incoming = []
    for n, (key, title, summary, topics) in enumerate(rows):
        seen = NOW + timedelta(minutes=n)
        item = Item(key=key, feed_url=state.url, source="F", title=title, summary=summary,
                    url=f"https://example.org/{key}", published_at=seen, first_seen_at=seen)
        incoming.append(IncomingItem(item=item, canonical_url=item.url, story_key=key,
                                     matches=tuple(TopicMatch(t, 1.0) for t in topics),
                                     alertable=False))
    await save_poll(engine, state, FetchUpdate(status="ok", success=True, etag=None,
                                               last_modified=None, error=None,
                                               next_poll_at=NOW), incoming, NOW)


async def test_settings_and_mutes(engine: AsyncEngine) -> None:
    await chat_store.ensure_chat(engine, 1, "private", "x", NOW)
    await chat_store.update_settings(engine, 1, NOW, mode="both", digest_time="07:30",
                                     timezone="Europe/Madrid", quiet_hours="23:00-07:00",
                                     paused_until=NOW + timedelta(hours=2), link_preview=True)
    assert await chat_store.add_mute(engine, 1, "bitcoin", limit=2)
    assert await chat_store.add_mute(engine, 1, "bitcoin", limit=2)  # idempotent
    assert await chat_store.add_mute(engine, 1, "crypto", limit=2)
    assert not await chat_store.add_mute(engine, 1, "nft", limit=2)
    assert await chat_store.remove_mute(engine, 1, "crypto")
    assert not await chat_store.remove_mute(engine, 1, "crypto")
    s = await chat_store.chat_settings(engine, 1)
    assert s is not None
    assert (s.mode, s.digest_time, s.timezone, s.quiet_hours, s.link_preview) == (
        "both", "07:30", "Europe/Madrid", "23:00-07:00", True)
    assert s.paused_until == NOW + timedelta(hours=2)
    assert s.mutes == ("bitcoin",)
    with pytest.raises(ValueError, match="not a chat setting"):
        await chat_store.update_settings(engine, 1, NOW, active=False)


async def test_latest_is_newest_first_one_per_story(engine: AsyncEngine) -> None:
    await store_items(engine, [
        ("a", "Old tariff story", "", ("tariffs",)),
        ("b", "Rare earth quotas", "", ("rare-earths",)),
        ("c", "New tariff story", "", ("tariffs",)),
        ("d", "Football", "", ()),
    ])
    titles = [i.title for i in await latest(engine, ["tariffs"], limit=10)]
    assert titles == ["New tariff story", "Old tariff story"]
    both = [i.title for i in await latest(engine, ["tariffs", "rare-earths"], limit=2)]
    assert both == ["New tariff story", "Rare earth quotas"]
    assert await latest(engine, [], limit=10) == []


async def test_search_all_words_any_script(engine: AsyncEngine) -> None:
    await store_items(engine, [
        ("a", "China curbs rare earth exports", "Beijing tightened licences.", ()),
        ("b", "US tariffs on steel", "Washington raised duties.", ()),
        ("c", "中国对美国加征关税", "商务部宣布。", ()),
        ("d", "Aranceles de EE.UU.", "México responde a los aranceles.", ()),
        ("e", "50% off: 100% guaranteed", "Use code _x_", ()),
    ])
    assert [i.title for i in await search(engine, "rare earth")] == [
        "China curbs rare earth exports"]
    assert [i.title for i in await search(engine, "STEEL tariffs")] == ["US tariffs on steel"]
    assert [i.title for i in await search(engine, "关税")] == ["中国对美国加征关税"]
    assert [i.title for i in await search(engine, "méxico aranceles")] == ["Aranceles de EE.UU."]
    assert await search(engine, "rare steel") == []
    assert await search(engine, "%") == []
    assert await search(engine, '" OR 1=1 --') == []
    assert [i.title for i in await search(engine, "us")] == ["US tariffs on steel"]


def test_search_words_are_bounded() -> None:
    assert search_words("  Rare-Earth,  EXPORTS!! ") == ["rare-earth", "exports"]
    assert len(search_words(" ".join(f"w{i}" for i in range(50)))) == 8
    assert search_words("x" * 500) == ["x" * 50]


async def test_lease_one_instance_at_a_time(engine: AsyncEngine) -> None:
    first, second = lease.new_holder(), "otherhost:1:abc"
    await lease.acquire(engine, first, NOW)
    await lease.acquire(engine, first, NOW)  # re-entrant for its holder
    with pytest.raises(AlreadyRunningError, match="another newsbot"):
        await lease.acquire(engine, second, NOW + timedelta(seconds=30))
    assert await lease.renew(engine, first, NOW + timedelta(seconds=30))
    # expired: the other instance may take over, and the first learns it lost
    await lease.acquire(engine, second, NOW + timedelta(minutes=5))
    assert not await lease.renew(engine, first, NOW + timedelta(minutes=5))
    await lease.release(engine, second)
    await lease.acquire(engine, first, NOW + timedelta(minutes=5))


async def test_lease_of_a_dead_local_process_is_taken_over(engine: AsyncEngine) -> None:
    import socket

    dead = f"{socket.gethostname()}:{2**22 + 12345}:dead"  # above pid_max: never alive
    assert os.getpid() != 2**22 + 12345
    await lease.acquire(engine, dead, NOW)
    await lease.acquire(engine, lease.new_holder(), NOW + timedelta(seconds=1))


async def test_channel_subscriptions_follow_the_config(engine: AsyncEngine) -> None:
    await chat_store.ensure_chat(engine, -100, "channel", "Alerts", NOW)
    await chat_store.set_subscriptions(engine, -100, ["tariffs", "rare-earths"], NOW)
    await chat_store.set_subscriptions(engine, -100, ["tariffs", "export-controls"], NOW)
    settings = await chat_store.chat_settings(engine, -100)
    assert settings is not None and settings.topics == ("export-controls", "tariffs")
