"""Stable item keys: the identity used to store an item once. Pure.

Order of preference, as feed readers have learned to do it:
1. the GUID, when it is usable: not empty, not a placeholder, not a bare home
   page URL (some feeds put the site root in every <guid>). A GUID that is an
   http(s) URL is keyed as a URL, so a permalink GUID and the same link from
   another feed give the same key;
2. the canonical link ("url:" + canonical URL without scheme and `www.`);
3. a hash of the normalised title and summary.

Keys are at most `MAX_KEY_LENGTH` characters: longer GUIDs or URLs are replaced
by their SHA-256, so the key fits an indexed column on every database.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import datetime

from bot.stories.urls import is_home_page, url_identity

MAX_KEY_LENGTH = 255
_PLACEHOLDER_GUIDS = frozenset({"", "null", "none", "undefined", "nil", "0", "-", "#"})


def item_key(guid: str | None, link: str | None, title: str, summary: str) -> str:
    """The item's stable key: "guid:...", "url:..." or "hash:..."."""
    g = (guid or "").strip()
    if g and g.lower() not in _PLACEHOLDER_GUIDS:
        if g.lower().startswith(("http://", "https://")):
            if not is_home_page(g):
                return _bounded("url:", url_identity(g))
        else:
            return _bounded("guid:", g)
    url = (link or "").strip()
    if url and url.lower().startswith(("http://", "https://")) and not is_home_page(url):
        return _bounded("url:", url_identity(url))
    return "hash:" + _text_digest(title, summary)


def text_identity(feed_url: str, title: str, summary: str,
                  published: datetime | None) -> str:
    """What identifies an item without a usable link beyond its key: "text:" + a hash of
    its feed, normalised title and summary, and date as the feed gave it; stored where
    a linked item's canonical URL goes.

    Why: some feeds give link-less items a GUID that changes on every fetch. The key
    then differs every time; only the text says it is the same item (a new row and,
    once the story window has passed, a new alert on every poll, without this). The
    feed and date keep apart what merely reads the same: another feed's item, or next
    week's "Flood warning: River Severn" with its own date."""
    stamp = published.isoformat() if published is not None else ""
    return "text:" + _text_digest(f"{feed_url}\n{stamp}\n{title}", summary)


def _text_digest(title: str, summary: str) -> str:
    return hashlib.sha256(
        f"{_normalise_text(title)}\n{_normalise_text(summary)}".encode()
    ).hexdigest()


def _normalise_text(text: str) -> str:
    # Feeds re-emit the same item with different whitespace or compatibility forms.
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def _bounded(prefix: str, value: str) -> str:
    if len(prefix) + len(value) <= MAX_KEY_LENGTH:
        return prefix + value
    return f"{prefix}sha256:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()}"
