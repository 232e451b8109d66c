"""Metrics: the recording functions fed with the service's real report types,
read back through Prometheus' own text parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from bot.delivery.outbox import DrainReport
from bot.ops.metrics import Metrics, feed_state
from bot.pipeline import CycleReport, FeedResult
from bot.store.feeds import FeedState

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, tuple(sorted(labels.items())))]


def state(failures: int = 0, disabled: str | None = None) -> FeedState:
    return FeedState(id=1, url="http://127.0.0.1/f", name="f", etag=None, last_modified=None,
                     seeded=True, next_poll_at=None, consecutive_failures=failures,
                     last_status=None, last_success_at=None, item_count=0,
                     disabled_reason=disabled)


def test_every_series_exists_at_zero_before_anything_happens() -> None:
    m = Metrics(topics=["tariffs", "rare-earths"], process=False)
    got = samples(m)
    for outcome in ("ok", "not-modified", "failed"):
        assert got[("newsbot_fetches_total", (("outcome", outcome),))] == 0
    for outcome in ("sent", "failed", "retried", "dropped"):
        assert got[("newsbot_deliveries_total", (("outcome", outcome),))] == 0
    for feed in ("ok", "failing", "disabled"):
        assert got[("newsbot_feeds", (("state", feed),))] == 0
    assert got[("newsbot_topic_matches_total", (("topic", "tariffs"),))] == 0
    assert got[("newsbot_telegram_rate_limited_total", ())] == 0
    assert got[("newsbot_outbox_queue", ())] == 0


def test_cycle_report_counts_outcomes_and_new_items() -> None:
    m = Metrics(process=False)
    report = CycleReport(started_at=NOW, results=[
        FeedResult("a", "ok", new_items=3, alerts_queued=1),
        FeedResult("b", "ok", new_items=0),
        FeedResult("c", "not-modified"),
        FeedResult("d", "failed", error="timeout"),
    ])
    m.observe_cycle(report, finished_at=NOW)
    m.observe_cycle(CycleReport(started_at=NOW, results=[FeedResult("a", "ok", new_items=2)]))
    assert value(m, "newsbot_fetches_total", outcome="ok") == 3
    assert value(m, "newsbot_fetches_total", outcome="not-modified") == 1
    assert value(m, "newsbot_fetches_total", outcome="failed") == 1
    assert value(m, "newsbot_items_new_total") == 5
    assert value(m, "newsbot_last_cycle_timestamp_seconds") == NOW.timestamp()


def test_fetch_durations_and_matches() -> None:
    m = Metrics(topics=["tariffs"], process=False)
    m.observe_fetch(timedelta(milliseconds=80))
    m.observe_fetch(3.0)
    m.observe_fetch(-1.0)  # a clock step must not break the histogram
    m.observe_matches(["tariffs", "student-visas"])
    m.observe_matches(["tariffs"])
    assert value(m, "newsbot_fetch_duration_seconds_count") == 3
    assert value(m, "newsbot_fetch_duration_seconds_bucket", le="0.1") == 2
    assert value(m, "newsbot_fetch_duration_seconds_bucket", le="2.5") == 2
    assert value(m, "newsbot_fetch_duration_seconds_bucket", le="5.0") == 3
    assert value(m, "newsbot_topic_matches_total", topic="tariffs") == 2
    assert value(m, "newsbot_topic_matches_total", topic="student-visas") == 1


def test_drain_report_queue_and_rate_limits() -> None:
    m = Metrics(process=False)
    m.observe_drain(DrainReport(sent=5, retried=2, failed=1, dropped=1), finished_at=NOW)
    m.observe_drain(DrainReport(sent=1))
    m.observe_rate_limited()
    m.observe_rate_limited(2)
    m.set_queue(9)
    assert value(m, "newsbot_deliveries_total", outcome="sent") == 6
    assert value(m, "newsbot_deliveries_total", outcome="retried") == 2
    assert value(m, "newsbot_deliveries_total", outcome="failed") == 1
    assert value(m, "newsbot_deliveries_total", outcome="dropped") == 1
    assert value(m, "newsbot_telegram_rate_limited_total") == 3
    assert value(m, "newsbot_outbox_queue") == 9
    assert value(m, "newsbot_last_drain_timestamp_seconds") == NOW.timestamp()


def test_end_to_end_latency_histograms() -> None:
    m = Metrics(process=False)
    published, seen = NOW - timedelta(minutes=10), NOW - timedelta(seconds=3)
    m.observe_delivery(published, seen, NOW)
    m.observe_delivery(None, seen, NOW)  # no publication date in the feed
    m.observe_delivery(NOW + timedelta(hours=1), NOW, NOW)  # publisher clock ahead: 0
    assert value(m, "newsbot_delivery_latency_from_published_seconds_count") == 2
    assert value(m, "newsbot_delivery_latency_from_published_seconds_sum") == 600
    assert value(m, "newsbot_delivery_latency_from_published_seconds_bucket", le="300.0") == 1
    assert value(m, "newsbot_delivery_latency_from_published_seconds_bucket", le="600.0") == 2
    assert value(m, "newsbot_delivery_latency_from_first_seen_seconds_count") == 3
    assert value(m, "newsbot_delivery_latency_from_first_seen_seconds_sum") == 6


def test_feed_states() -> None:
    assert [feed_state(s) for s in (state(), state(failures=2), state(3, "410 Gone"))] == [
        "ok", "failing", "disabled"]
    m = Metrics(process=False)
    m.set_feed_states([state(), state(), state(failures=1), state(disabled="410 Gone")])
    assert value(m, "newsbot_feeds", state="ok") == 2
    assert value(m, "newsbot_feeds", state="failing") == 1
    assert value(m, "newsbot_feeds", state="disabled") == 1
    m.set_feed_states([state()])  # a gauge: the next sample replaces the last
    assert value(m, "newsbot_feeds", state="failing") == 0


def test_registries_are_independent_and_include_process_metrics() -> None:
    a, b = Metrics(), Metrics()
    a.observe_rate_limited()
    assert value(b, "newsbot_telegram_rate_limited_total") == 0
    assert any(name == "process_resident_memory_bytes" for name, _ in samples(a))
    assert a.render().startswith(b"# HELP")
