"""Item dates feedparser cannot read: other languages' month names, the US long form."""

from datetime import UTC, datetime

import feedparser
import pytest

from bot.feeds.dates import parse_loose_date


@pytest.mark.parametrize(("text", "expected"), [
    # the corpus feeds that needed this (../shared/corpus/news-feeds)
    ("mer, 16 nov 2022 00:38:15 +0100", datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC)),
    ("Seg, 24 Set 2018 19:42:40 -0300", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),
    ("Friday, January 29, 2021 04:42 PM", datetime(2021, 1, 29, 16, 42, tzinfo=UTC)),
    # other languages and spellings
    ("Di, 03 Dez 2024 08:15:00 +0100", datetime(2024, 12, 3, 7, 15, tzinfo=UTC)),
    ("Mi., 12. März 2025 10:00:00 MEZ", datetime(2025, 3, 12, 9, 0, tzinfo=UTC)),
    ("12 ott 2025 10:00:00 XYZT", datetime(2025, 10, 12, 10, 0, tzinfo=UTC)),  # zone unknown
    ("jeu., 24 juil. 2025 14:05:00 +0200", datetime(2025, 7, 24, 12, 5, tzinfo=UTC)),
    ("lun., 2 juin 2025 09:00 GMT", datetime(2025, 6, 2, 9, 0, tzinfo=UTC)),
    ("mar, 11 févr 2025 19h30 +0100", datetime(2025, 2, 11, 18, 30, tzinfo=UTC)),
    ("Sáb, 01 Ago 2020 12:00:00 -0300", datetime(2020, 8, 1, 15, 0, tzinfo=UTC)),
    ("24 de setembro de 2018 19:42", datetime(2018, 9, 24, 19, 42, tzinfo=UTC)),
    ("vr, 3 mei 2024 11:00:00 CEST", datetime(2024, 5, 3, 9, 0, tzinfo=UTC)),
    ("12 ott 2023", datetime(2023, 10, 12, tzinfo=UTC)),
    ("March 3, 2025 12:30 AM EST", datetime(2025, 3, 3, 5, 30, tzinfo=UTC)),
    ("Jan 5, 2025, 12:00 p.m.", datetime(2025, 1, 5, 12, 0, tzinfo=UTC)),
])
def test_dates_in_other_forms(text: str, expected: datetime) -> None:
    assert parse_loose_date(text) == expected
    # each of these is a date feedparser gives up on, or this module would not be needed
    if "EST" not in text and "p.m." not in text:
        assert feedparser.parse(
            f"<rss><channel><item><pubDate>{text}</pubDate></item></channel></rss>"
        ).entries[0].get("published_parsed") is None


@pytest.mark.parametrize("text", [
    None, "", "yesterday", "31 Feb 2024 10:00:00 +0000", "12 Foo 2024", "29 nov 2022 25:00",
    "Friday, January 29, 2021 13:42 PM", "16 nov 2022 00:38:15 +9900",
    "1" * 200, "16 nov 2022 00:38:15 +0100 and then some more words",
])
def test_what_is_not_a_date_gives_none(text: str | None) -> None:
    assert parse_loose_date(text) is None


@pytest.mark.parametrize("text", [
    "lun, 01 gen 0001 00:00:00 +0100",  # before year 1 in UTC
    "31 dic 9999 23:30 -0100",  # after year 9999 in UTC
    "16 nov 2022 00:38:15 +0199",  # 99 minutes is no offset
])
def test_dates_out_of_range_give_none_not_an_exception(text: str) -> None:
    assert parse_loose_date(text) is None


def test_us_zone_abbreviations() -> None:
    assert parse_loose_date("March 3, 2025 9:00 AM ET") == datetime(2025, 3, 3, 14, tzinfo=UTC)
    assert parse_loose_date("March 3, 2025 9:00 AM PT") == datetime(2025, 3, 3, 17, tzinfo=UTC)
