"""Canonical article URLs and redirect unwrapping. Pure: never fetches anything.

The canonical form is what two links to the same article have in common, so it
can serve as an identity (item keys, exact-duplicate detection). Rules:

- scheme and host lower-cased, a trailing dot on the host dropped, default
  ports (:80 for http, :443 for https) and user info dropped;
- AMP and mobile variants folded onto the desktop page: hosts `amp.`, `m.`,
  `mobile.` become `www.`; a `/amp/` path segment or a trailing `/amp` is
  removed; `.amp.html` becomes `.html`; `?outputType=amp`, `?amp` and
  `?amp=1` are removed; Google's AMP viewer and AMP cache URLs are unwrapped;
- tracking parameters removed (`utm_*`, `fbclid`, `gclid`, `ocid`, `cmpid`,
  `mc_cid`, ... see `_TRACKING`); `ref`/`ref_src` too, except on code hosts
  where `?ref=` names a branch; the rest sorted by name, then value;
- the fragment dropped;
- trailing slash: removed from any path but the root (`/a/b/` -> `/a/b`; the
  root is always `/`). Servers almost always serve both; keeping one spelling
  matters more than which;
- percent-encoding normalised: escapes of unreserved characters decoded,
  other escapes upper-cased, spaces and non-ASCII characters encoded as UTF-8;
  `.` and `..` segments resolved.

The scheme is kept (a canonical URL stays a working link); `url_identity`
drops it and a leading `www.` for comparisons, since feeds move from http to
https and drop `www.` without the article changing.

Bad input never raises: it comes back stripped, as the best effort.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from bot.stories.text import word_set as _word_set

_TRACKING = _word_set(
    """
    fbclid gclid gclsrc dclid msclkid yclid twclid ttclid li_fat_id igshid igsh
    ocid cmpid cmp mc_cid mc_eid _ga _gl _hsenc _hsmi mkt_tok vero_id oly_enc_id oly_anon_id
    ns_mchannel ns_source ns_campaign ns_linkname ns_fee icid intcmp smid smtyp xtor
    at_medium at_campaign at_custom1 at_custom2 wt.mc_id wt.tsrc ftag taid
    ref_src ref_url __twitter_impression guccounter guce_referrer guce_referrer_sig
    sr_share spm share_id trk trkcampaign s_cid cid_source rss_source via_rss
    ito feedtype feedname cvid pgtype referringsource __source ncid sref rss_id
    """
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org")
_MOBILE_PREFIXES = ("amp.", "m.", "mobile.")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 unreserved characters stay literal; everything else that is not a
# delimiter gets encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/:@!$'()*,;-._~?"  # no '+': it would read back as a space
_AMP_CACHE_HOST = re.compile(r"^[a-z0-9-]+\.cdn\.ampproject\.org$")
_AMP_CACHE_PATH = re.compile(r"^/(?:[a-z]/)?(?:(s)/)?(.+)$")
_GOOGLE_NEWS_HOSTS = ("news.google.com",)
_GOOGLE_NEWS_PATH = re.compile(
    r"^(?:/__i)?/rss(?:/rd)?/articles/([A-Za-z0-9_-]+)|^/articles/([A-Za-z0-9_-]+)"
)
_REDIRECT_PARAM_HOSTS = {
    "www.google.com": "url",
    "google.com": "url",
    "news.google.com": "url",
    "www.bing.com": "url",
    "bing.com": "url",
}


def canonical_url(url: str) -> str:
    """The canonical spelling of an article URL (see the module docstring)."""
    try:
        return _canonical(url)
    except (ValueError, UnicodeError, TypeError, AttributeError):
        return url.strip() if isinstance(url, str) else ""


def url_identity(url: str) -> str:
    """A comparison key: the canonical URL without its scheme and leading `www.`."""
    canonical = canonical_url(url)
    _, sep, rest = canonical.partition("://")
    if not sep:
        return canonical
    return rest[4:] if rest.startswith("www.") else rest


def resolve_source_url(link: str | None, source_url: str | None) -> str | None:
    """The outlet's own article URL behind an aggregator link, when it can be known offline.

    Google News links (`news.google.com/rss/articles/<id>`) carry the article URL
    inside the id in their older format; Google Alerts and Bing News carry it in a
    `url=` parameter. Newer Google News ids are opaque; then the feed's `<source
    url=...>` is used if it points at an article, but not when it is the outlet's
    home page (Google gives the home page there), because a home page would make
    every item of that outlet look like the same item.
    """
    if not link:
        return source_url or None
    try:
        parts = urlsplit(link.strip())
        host = (parts.hostname or "").lower()
        param = _REDIRECT_PARAM_HOSTS.get(host)
        if param:
            for key, value in parse_qsl(parts.query, keep_blank_values=True):
                if key.lower() == param and value.startswith(("http://", "https://")):
                    return value
        if host in _GOOGLE_NEWS_HOSTS:
            match = _GOOGLE_NEWS_PATH.match(parts.path)
            if match:
                embedded = _decode_google_news_id(match.group(1) or match.group(2))
                if embedded:
                    return embedded
                if source_url and not is_home_page(source_url):
                    return source_url
    except ValueError:
        pass
    return link


def is_home_page(url: str) -> bool:
    """True for a bare site root such as `https://www.reuters.com/` (no path, no query)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return bool(parts.netloc) and parts.path in ("", "/") and not parts.query


def _decode_google_news_id(article_id: str) -> str | None:
    # Older ids are URL-safe base64 of a small protobuf: 0x08 0x13 0x22 <len> <url> ...
    # Newer ones (2024+) encode an opaque token instead; those return None.
    try:
        raw = base64.urlsafe_b64decode(article_id + "=" * (-len(article_id) % 4))
    except (binascii.Error, ValueError):
        return None
    start = raw.find(b"http")
    if start < 1:
        return None
    length, width = _varint_before(raw, start)
    if length <= 0 or width <= 0:
        return None
    candidate = raw[start : start + length]
    try:
        text = candidate.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if re.match(r"^https?://[^\s/]+", text) else None


def _varint_before(raw: bytes, start: int) -> tuple[int, int]:
    # The length prefix is a protobuf varint of one or two bytes right before the URL.
    if start >= 2 and raw[start - 2] & 0x80:
        return (raw[start - 2] & 0x7F) | (raw[start - 1] << 7), 2
    return raw[start - 1], 1


def _canonical(url: str) -> str:
    text = url.strip()
    if not text:
        return ""
    if text.startswith("//"):
        text = "https:" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        return text
    host = (parts.hostname or "").rstrip(".")
    port = parts.port
    path, query = parts.path, parts.query

    unwrapped = _unwrap_amp_viewer(host, path, scheme)
    if unwrapped is not None:
        return _canonical(unwrapped + (f"?{query}" if query else ""))

    host = _fold_mobile_host(host)
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normalise_path(path)
    params = _clean_query(query, host)
    return urlunsplit((scheme, netloc, path, params, ""))


def _unwrap_amp_viewer(host: str, path: str, scheme: str) -> str | None:
    # Google's AMP viewer: https://www.google.com/amp/s/www.example.com/a.html
    if host in ("www.google.com", "google.com") and path.startswith("/amp/"):
        rest = path[len("/amp/") :]
        secure = rest.startswith("s/")
        rest = rest[2:] if secure else rest
        return ("https://" if secure else "http://") + rest if rest else None
    # AMP cache: https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a.html
    if _AMP_CACHE_HOST.match(host):
        match = _AMP_CACHE_PATH.match(path)
        if match and "." in match.group(2).split("/", 1)[0]:
            return ("https://" if match.group(1) else f"{scheme}://") + match.group(2)
    return None


def _fold_mobile_host(host: str) -> str:
    for prefix in _MOBILE_PREFIXES:
        rest = host[len(prefix) :]
        # Keep "m.com"-like hosts: folding needs a registrable name left over.
        if host.startswith(prefix) and "." in rest:
            return "www." + rest
    return host


def _normalise_path(path: str) -> str:
    segments: list[str] = []
    for raw in path.split("/"):
        segment = _normalise_escapes(raw, _PATH_SAFE.replace("/", ""))
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    # AMP variants: /amp/ segment anywhere, a trailing /amp, or name.amp.html
    segments = [s for s in segments if s.lower() != "amp"]
    if segments and segments[-1].lower().endswith(".amp.html"):
        segments[-1] = segments[-1][: -len(".amp.html")] + ".html"
    if segments and segments[-1].lower().endswith(".amp"):
        segments[-1] = segments[-1][: -len(".amp")]
    return "/" + "/".join(segments)


def _normalise_escapes(text: str, safe: str) -> str:
    # Decode every escape, then re-encode: %7e -> ~, %e2%80%99 stays one encoded
    # character, "é" -> %C3%A9. unquote leaves invalid UTF-8 as replacement chars,
    # so decode to bytes via latin-1 surrogates to keep arbitrary bytes intact.
    decoded = unquote(text, encoding="utf-8", errors="surrogateescape")
    return quote(decoded, safe=safe, encoding="utf-8", errors="surrogateescape")


def _clean_query(query: str, host: str) -> str:
    if not query:
        return ""
    kept: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        name = key.strip().lower()
        if not name:
            continue
        if name in _TRACKING or name.startswith(_TRACKING_PREFIXES):
            continue
        if name == "ref" and not host.endswith(_CODE_HOSTS):
            continue
        if name == "amp" and value.lower() in ("", "1", "true"):
            continue
        if name == "outputtype" and value.lower() == "amp":
            continue
        kept.append((key, value))
    kept.sort()
    return "&".join(
        f"{quote(k, safe=_QUERY_SAFE)}={quote(v, safe=_QUERY_SAFE)}"
        if v != ""
        else quote(k, safe=_QUERY_SAFE)
        for k, v in kept
    )
