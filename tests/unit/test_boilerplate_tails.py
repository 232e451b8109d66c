"""The tail rules' substring prefilter (bot/text/boilerplate.py) is an optimisation only:
on every line of every corpus news feed, and on lines built to hit each rule, stripping
tails with the prefilter gives exactly what applying every rule unconditionally gives."""

from __future__ import annotations

import re

import pytest

from bot.text import boilerplate
from bot.text.chars import ELLIPSIS
from bot.text.html_text import html_to_text
from tests.support.corpus import CORPUS_DIR, feed_entries


def unfiltered_strip_tails(line: str) -> str:
    """The rules without their prefilter: every pattern on every line."""
    while True:
        before = line
        for _, rule in boilerplate._TAILS:
            line = rule.sub("", line)
        if boilerplate._EXCERPT_MARK.search(line):
            line = boilerplate._EXCERPT_MARK.sub("", line).rstrip() + ELLIPSIS
        if line == before:
            return line.strip()


def corpus_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted((CORPUS_DIR / "news-feeds").glob("*.xml")):
        for entry in feed_entries(f"news-feeds/{path.name}"):
            markup = str(entry.get("summary", "")) + "\n" + str(entry.get("title", ""))
            lines.extend(line.strip() for line in html_to_text(markup).split("\n"))
    return [line for line in lines if line]


def test_prefilter_changes_nothing_on_the_corpus() -> None:
    lines = corpus_lines()
    assert len(lines) > 2_000  # the corpus is there and was read
    changed = [line for line in lines if boilerplate._strip_tails(line) != line.strip()]
    assert changed, "no corpus line has a tail: the comparison below would prove little"
    mismatches = [line for line in lines
                  if boilerplate._strip_tails(line) != unfiltered_strip_tails(line)]
    assert mismatches == []


@pytest.mark.parametrize("line", [
    "Shares fell sharply on Monday. Continue reading...",
    "Shares fell sharply on Monday. READ MORE »",
    "Las acciones cayeron. Seguir leyendo →",
    "股市大跌 阅读全文>>",
    "Prices rose. The post Prices rose appeared first on Example News.",
    "Los precios subieron. La entrada Precios se publicó primero en Ejemplo.",
    "A port in Qingdao. Photograph: Jane Doe/Reuters",
    "A port in Qingdao. FOTO: Agencia",
    "An excerpt that was cut [...]",
])
def test_prefilter_keeps_each_rule_working(line: str) -> None:
    stripped = boilerplate._strip_tails(line)
    assert stripped != line  # the rule applied
    assert stripped == unfiltered_strip_tails(line)


def test_needles_are_lowercase() -> None:
    # The prefilter compares against line.lower(): an uppercase needle would never match.
    for needles, _ in boilerplate._TAILS:
        assert all(n == n.lower() for n in needles)
        assert all(re.search(r"\S", n) for n in needles)
