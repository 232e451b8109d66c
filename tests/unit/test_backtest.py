"""Backtest: recorded matches versus a (proposed) config's matcher."""

from bot import config as config_module
from bot.backtest import StoredMatchInput, backtest, format_backtest

PROPOSED = config_module.loads("""
[[feeds]]
url = "https://example.org/a"

[topics.tariffs]
name = "Tariffs"
query = 'tariffs -electricity'

[topics.rare-earths]
name = "Rare earths"
query = '"rare earth"'
""")


def item(n: int, title: str, recorded: set[str]) -> StoredMatchInput:
    return StoredMatchInput(n, title, "", 1.0, frozenset(recorded))


def test_gained_and_lost_per_topic() -> None:
    items = [
        item(1, "New tariffs on steel", {"tariffs"}),
        item(2, "Electricity tariffs rise in winter", {"tariffs"}),  # lost: a false positive
        item(3, "China limits rare earth magnets", set()),  # gained
        item(4, "Football", set()),
        item(5, "Old student visa story", {"student-visas"}),  # topic gone from the proposal
    ]
    diffs = {d.slug: d for d in backtest(items, PROPOSED.matcher, PROPOSED.topic_slugs)}
    assert (diffs["tariffs"].before, diffs["tariffs"].after) == (2, 1)
    assert diffs["tariffs"].lost == ["Electricity tariffs rise in winter"]
    assert diffs["rare-earths"].gained == ["China limits rare earth magnets"]
    assert (diffs["student-visas"].before, diffs["student-visas"].after) == (1, 0)
    text = format_backtest(list(diffs.values()), len(items), "7d ago")
    assert "5 stored items since 7d ago" in text
    assert "- Electricity tariffs rise in winter" in text
    assert "+ China limits rare earth magnets" in text
