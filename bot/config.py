"""Config file (TOML) -> validated pydantic models -> frozen domain objects.

Owns: reading the file, validating every key (`extra="forbid"`, so a typo is an
error, not a silently ignored line), compiling topic queries, and reporting ALL
problems at once with their place (`topics.tariffs.query`) and line number.
Must not: touch the network, the database or the environment (the CLI passes
environment values in).
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.durations import parse_duration
from bot.errors import ConfigError, ConfigProblem, QueryError
from bot.feeds.article import ArticleSettings
from bot.matching import Matcher, TopicSpec, compile_matcher, parse_query
from bot.ops.health import parse_listen

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
DEFAULT_CONFIG_PATH = Path("config/newsbot.toml")


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(str(value)) if isinstance(value, str) else _reject_duration(value)


def _reject_duration(value: Any) -> timedelta:
    raise ValueError(f"expected a duration string like '5m', got {value!r}")


def _positive(delta: timedelta) -> timedelta:
    if delta <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return delta


Duration = Annotated[Any, AfterValidator(_duration), AfterValidator(_positive)]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError(f"topic slug {value!r} must be lower-case letters, digits and '-' "
                         "(at most 32), e.g. [topics.rare-earths]")
    return value


# Validated as a dict key, so a bad slug is reported beside the other topics' problems.
Slug = Annotated[str, AfterValidator(_slug)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class PollingModel(_Strict):
    interval: Duration = "10m"
    min_interval: Duration = "1m"
    max_interval: Duration = "6h"
    timeout: Duration = "20s"
    max_concurrency: int = Field(default=20, ge=1, le=500)
    per_host: int = Field(default=2, ge=1, le=50)
    max_body_bytes: int = Field(default=10_000_000, ge=10_000, le=200_000_000)
    seed_on_first_poll: bool = True
    max_item_age: Duration = "3d"
    user_agent: str = Field(default="", max_length=300)
    flag_after_failures: int = Field(default=5, ge=1, le=1000)
    flag_after: Duration = "1d"
    max_feeds_per_cycle: int = Field(default=1000, ge=1, le=100_000)

    @model_validator(mode="after")
    def _bounds(self) -> PollingModel:
        if self.min_interval > self.max_interval:
            raise ValueError("min_interval is longer than max_interval")
        return self


class FeedModel(_Strict):
    url: HttpUrl
    name: str | None = Field(default=None, max_length=200)
    interval: Duration | None = None
    weight: float = Field(default=1.0, gt=0, le=10)
    enabled: bool = True


class TopicModel(_Strict):
    name: str = Field(min_length=1, max_length=100)
    query: str = Field(min_length=1, max_length=5000)
    min_score: float = Field(default=0.0, ge=0)
    description: str = Field(default="", max_length=500)

    @field_validator("query")
    @classmethod
    def _query_parses(cls, value: str) -> str:
        try:
            parse_query(value)
        except QueryError as exc:
            raise ValueError(str(exc)) from None
        return value


class MatchingModel(_Strict):
    exclude: str | None = Field(default=None, max_length=5000)

    @field_validator("exclude")
    @classmethod
    def _exclude_parses(cls, value: str | None) -> str | None:
        if value:
            try:
                parse_query(value)
            except QueryError as exc:
                raise ValueError(str(exc)) from None
        return value


def _clock(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"must be HH:MM (24h), got {value!r}")
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Europe/Madrid')") from None
    return value


class DigestModel(_Strict):
    time: Annotated[str, AfterValidator(_clock)] = "08:00"
    timezone: Annotated[str, AfterValidator(_zone)] = "UTC"


class ChannelModel(_Strict):
    chat_id: int = Field(lt=0, description="the channel's id, e.g. -1001234567890")
    topics: list[Slug] = Field(min_length=1)
    name: str = Field(default="", max_length=100)


def _listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be HOST:PORT, e.g. 0.0.0.0:8443, got {value!r}")
    return value


Listen = Annotated[str, AfterValidator(_listen)]


class TelegramModel(_Strict):
    admins: list[int] = Field(default_factory=list)
    channels: list[ChannelModel] = Field(default_factory=list)
    # Webhook mode (instead of long polling): Telegram POSTs updates to webhook_url,
    # which a reverse proxy forwards to webhook_listen. The secret token comes from the
    # environment (TELEGRAM_WEBHOOK_SECRET), never from this file.
    webhook_url: HttpUrl | None = None
    webhook_listen: Listen = "127.0.0.1:8443"


class DeliveryModel(_Strict):
    max_age: Duration = "24h"
    summary_chars: int = Field(default=300, ge=50, le=2000)
    batch_size: int = Field(default=20, ge=1, le=500)
    max_attempts: int = Field(default=12, ge=1, le=100)
    max_per_second: float = Field(default=29, gt=0, le=1000)  # just under Telegram's 30


def _http_listen(value: str | None) -> str | None:
    if value is not None:
        parse_listen(value)  # raises ValueError with the reason
    return value


class HttpModel(_Strict):
    listen: Annotated[str | None, AfterValidator(_http_listen)] = None  # off unless set
    max_cycle_age: Duration = "15m"  # /healthz is 503 when the last poll cycle is older
    max_drain_age: Duration = "5m"  # ...or the last outbox drain


class RetentionModel(_Strict):
    keep_items: Duration = "90d"  # items and settled deliveries
    keep_keys: Duration = "400d"  # item keys and story keys, so old items never re-alert

    @model_validator(mode="after")
    def _keys_outlive_items(self) -> RetentionModel:
        if self.keep_keys < self.keep_items:
            raise ValueError("keep_keys must be at least keep_items")
        return self


class SummaryModel(_Strict):
    fetch_article: bool = False
    article_max_bytes: int = Field(default=2_000_000, ge=10_000, le=20_000_000)
    article_timeout: Duration = "10s"
    article_cache_size: int = Field(default=2000, ge=0, le=1_000_000)
    article_cache_ttl: Duration = "24h"
    article_failure_ttl: Duration = "30m"

    @field_validator("fetch_article")
    @classmethod
    def _extractor_installed(cls, value: bool) -> bool:
        if value and importlib.util.find_spec("trafilatura") is None:
            raise ValueError("needs the article extractor: pip install 'newsbot[article]'")
        return value


class ConfigModel(_Strict):
    polling: PollingModel = PollingModel()
    feeds: list[FeedModel] = Field(default_factory=list)
    topics: dict[Slug, TopicModel] = Field(default_factory=dict)
    matching: MatchingModel = MatchingModel()
    digest: DigestModel = DigestModel()
    telegram: TelegramModel = TelegramModel()
    delivery: DeliveryModel = DeliveryModel()
    http: HttpModel = HttpModel()
    retention: RetentionModel = RetentionModel()
    summary: SummaryModel = SummaryModel()

    @model_validator(mode="after")
    def _channel_topics_exist(self) -> ConfigModel:
        for n, channel in enumerate(self.telegram.channels):
            unknown = [t for t in channel.topics if t not in self.topics]
            if unknown:
                raise ValueError(f"telegram.channels[{n}] routes unknown topics {unknown}; "
                                 f"defined: {sorted(self.topics)}")
        return self

    @field_validator("feeds")
    @classmethod
    def _unique_urls(cls, feeds: list[FeedModel]) -> list[FeedModel]:
        seen: set[str] = set()
        for feed in feeds:
            if feed.url in seen:
                raise ValueError(f"feed listed twice: {feed.url}")
            seen.add(feed.url)
        return feeds


# ---- domain objects (what the rest of the product sees) ----


@dataclass(frozen=True, slots=True)
class FeedConfig:
    url: str
    name: str
    interval: timedelta
    weight: float
    enabled: bool


@dataclass(frozen=True, slots=True)
class Topic:
    slug: str
    name: str
    query: str
    min_score: float
    description: str


@dataclass(frozen=True, slots=True)
class PollingConfig:
    interval: timedelta
    min_interval: timedelta
    max_interval: timedelta
    timeout: timedelta
    max_concurrency: int
    per_host: int
    max_body_bytes: int
    seed_on_first_poll: bool
    max_item_age: timedelta
    user_agent: str
    flag_after_failures: int
    flag_after: timedelta
    max_feeds_per_cycle: int


@dataclass(frozen=True, slots=True)
class DigestConfig:
    time: time
    timezone: str


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    max_age: timedelta
    summary_chars: int
    batch_size: int
    max_attempts: int
    max_per_second: float = 29


@dataclass(frozen=True, slots=True)
class ChannelRoute:
    chat_id: int
    topics: tuple[str, ...]
    name: str


@dataclass(frozen=True, slots=True)
class HttpConfig:
    listen: str | None = None
    max_cycle_age: timedelta = timedelta(minutes=15)
    max_drain_age: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    keep_items: timedelta = timedelta(days=90)
    keep_keys: timedelta = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    host: str
    port: int
    path: str


@dataclass(frozen=True, slots=True)
class AppConfig:
    path: Path | None
    polling: PollingConfig
    feeds: tuple[FeedConfig, ...]
    topics: tuple[Topic, ...]
    matcher: Matcher
    digest: DigestConfig
    admins: frozenset[int]
    delivery: DeliveryConfig
    channels: tuple[ChannelRoute, ...] = ()
    webhook: WebhookConfig | None = None
    http: HttpConfig = HttpConfig()
    retention: RetentionConfig = RetentionConfig()
    article: ArticleSettings = field(default_factory=ArticleSettings)

    def topic(self, slug: str) -> Topic | None:
        return next((t for t in self.topics if t.slug == slug), None)

    @property
    def topic_slugs(self) -> tuple[str, ...]:
        return tuple(t.slug for t in self.topics)


def load(path: Path) -> AppConfig:
    """Read and validate a config file. Raises ConfigError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), f"not UTF-8: {exc.reason}")]) from exc
    return loads(text, path)


def loads(text: str, path: Path | None = None) -> AppConfig:
    """Validate config text (see `load`)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem("toml", str(exc))]) from exc
    try:
        model = ConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, text)) from exc
    return _to_domain(model, path)


def _problems(exc: ValidationError, text: str) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        place = _place(loc)
        line = _line_of(text, loc)
        where = f"{place} (line {line})" if line else place
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see config/newsbot.toml for every key)"
        elif err["type"] == "missing":
            message = "required key is missing"
        problems.append(ConfigProblem(where, message))
    return problems


def _place(loc: Sequence[Any]) -> str:
    place = ""
    for part in loc:
        if part == "[key]":
            continue  # the slug itself is the problem: its place is the table name
        if isinstance(part, int):
            place += f"[{part}]"
        else:
            place += f".{part}" if place else str(part)
    return place


def _line_of(text: str, loc: Sequence[Any]) -> int | None:
    """Best-effort line number of the key a validation error points at."""
    lines = text.splitlines()
    start, end = 0, len(lines)
    header: list[str] = []
    keys = list(loc)
    if keys and keys[0] == "feeds" and len(keys) > 1 and isinstance(keys[1], int):
        found = [i for i, ln in enumerate(lines) if ln.strip() == "[[feeds]]"]
        if keys[1] >= len(found):
            return None
        start = found[keys[1]]
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
                   len(lines))
        keys = keys[2:]
    elif keys:
        header = [str(keys[0])]
        keys = keys[1:]
        if header == ["topics"] and keys:
            header.append(str(keys.pop(0)))
        name = ".".join(header)
        hit = next((i for i, ln in enumerate(lines)
                    if re.match(rf"^\s*\[\s*{re.escape(name)}\s*\]", ln)), None)
        if hit is None:
            return None
        start = hit
        end = next((i for i in range(hit + 1, len(lines)) if lines[i].lstrip().startswith("[")),
                   len(lines))
    if not keys:
        return start + 1
    key = str(keys[0])
    for i in range(start, end):
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start + 1


def _to_domain(model: ConfigModel, path: Path | None) -> AppConfig:
    polling = model.polling
    problems: list[ConfigProblem] = []
    feeds = []
    for feed in model.feeds:
        interval = feed.interval or polling.interval
        # An explicit interval still stays within the operator's bounds (interfaces.md).
        interval = min(max(interval, polling.min_interval), polling.max_interval)
        feeds.append(FeedConfig(url=feed.url, name=feed.name or _host(feed.url),
                                interval=interval, weight=feed.weight, enabled=feed.enabled))
    topics = tuple(Topic(slug=slug, name=t.name, query=t.query, min_score=t.min_score,
                         description=t.description) for slug, t in model.topics.items())
    if not topics:
        problems.append(ConfigProblem(
            "topics", "no topics defined: add at least one [topics.<slug>]"))
    if problems:
        raise ConfigError(problems)
    specs = [TopicSpec(slug=t.slug, name=t.name, query=t.query, min_score=t.min_score)
             for t in topics]
    try:
        matcher = compile_matcher(specs, exclude=model.matching.exclude)
    except QueryError as exc:  # parse errors were caught per topic; this is a safety net
        raise ConfigError([ConfigProblem("topics", str(exc))]) from exc
    hour, minute = (int(x) for x in model.digest.time.split(":"))
    return AppConfig(
        path=path,
        polling=PollingConfig(
            interval=polling.interval, min_interval=polling.min_interval,
            max_interval=polling.max_interval, timeout=polling.timeout,
            max_concurrency=polling.max_concurrency, per_host=polling.per_host,
            max_body_bytes=polling.max_body_bytes,
            seed_on_first_poll=polling.seed_on_first_poll,
            max_item_age=polling.max_item_age, user_agent=polling.user_agent,
            flag_after_failures=polling.flag_after_failures, flag_after=polling.flag_after,
            max_feeds_per_cycle=polling.max_feeds_per_cycle),
        feeds=tuple(feeds),
        topics=topics,
        matcher=matcher,
        digest=DigestConfig(time=time(hour, minute), timezone=model.digest.timezone),
        admins=frozenset(model.telegram.admins),
        webhook=_webhook(model.telegram),
        http=HttpConfig(listen=model.http.listen, max_cycle_age=model.http.max_cycle_age,
                        max_drain_age=model.http.max_drain_age),
        retention=RetentionConfig(keep_items=model.retention.keep_items,
                                  keep_keys=model.retention.keep_keys),
        article=ArticleSettings(
            enabled=model.summary.fetch_article, max_bytes=model.summary.article_max_bytes,
            timeout=model.summary.article_timeout,
            cache_size=model.summary.article_cache_size,
            cache_ttl=model.summary.article_cache_ttl,
            failure_ttl=model.summary.article_failure_ttl),
        channels=tuple(ChannelRoute(c.chat_id, tuple(dict.fromkeys(c.topics)),
                                    c.name or str(c.chat_id))
                       for c in model.telegram.channels),
        delivery=DeliveryConfig(max_age=model.delivery.max_age,
                                summary_chars=model.delivery.summary_chars,
                                batch_size=model.delivery.batch_size,
                                max_attempts=model.delivery.max_attempts,
                                max_per_second=model.delivery.max_per_second),
    )


def _webhook(telegram: TelegramModel) -> WebhookConfig | None:
    if not telegram.webhook_url:
        return None
    host, _, port = telegram.webhook_listen.rpartition(":")
    path = urlsplit(telegram.webhook_url).path.lstrip("/")
    return WebhookConfig(url=telegram.webhook_url, host=host.strip("[]"), port=int(port),
                         path=path)


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def resolve_path(cli_value: str | None, env: Mapping[str, str]) -> Path:
    """--config wins, then NEWSBOT_CONFIG, then config/newsbot.toml."""
    if cli_value:
        return Path(cli_value)
    if env.get("NEWSBOT_CONFIG"):
        return Path(env["NEWSBOT_CONFIG"])
    return DEFAULT_CONFIG_PATH
