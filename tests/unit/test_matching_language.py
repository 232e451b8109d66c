"""The topic query language, operator by operator: what matches, what does not, and
every QueryError with its column and message."""

from __future__ import annotations

import pytest

from bot.errors import QueryError
from bot.matching import TopicSpec, compile_matcher, explanation_to_dict, parse_query


def matches(query: str, title: str, summary: str = "") -> bool:
    matcher = compile_matcher([TopicSpec("t", "Topic", query)])
    return bool(matcher.match(title, summary))


MATCH_CASES = [
    # terms, word boundaries, explicit plural variants
    ("tariff", "New tariff on steel", "", True, "term"),
    ("tariff", "Tariffication of the grid", "", False, "term-word-boundary"),
    ("tariff", "Steel tariffs rise", "", True, "plural-s"),
    ("tax", "New taxes on imports", "", True, "plural-es"),
    ("policy", "Trade policies diverge", "", True, "plural-ies"),
    ("arancel", "Nuevos aranceles de EEUU", "", True, "plural-spanish-es"),
    ("control", "Los controles se endurecen", "", True, "plural-spanish-control"),
    ("war", "Software wares for sale", "", False, "no-spanish-plural-for-war"),
    ("visas", "student visa rules", "", False, "no-silent-singular"),
    ("Huawei", "Huaweis", "", False, "capitalised-name-no-plural"),
    ("Huawei", "HUAWEI ban", "", True, "name-any-case"),
    # accents and Unicode normalisation
    ("exportación", "la exportacion de chips", "", True, "accent-in-query"),
    ("exportacion", "LA EXPORTACIÓN DE CHIPS", "", True, "accent-in-text"),
    ("exportacion", "la exportacio\u0301n", "", True, "decomposed-accent"),
    ("US", "\uff35\uff33 tariffs", "", True, "fullwidth-nfkc"),
    ('"rare earth"', "rare\u00a0earth", "", True, "nbsp"),
    ("tariff", "tar\u200biff", "", True, "zero-width-removed"),
    ("tariff", "<b>tariff</b>", "", True, "markup-stripped"),
    ("tariff", "&lt;tariff&gt;", "", True, "entity-decoded"),
    ("China's", "China\u2019s tariffs", "", True, "typographic-apostrophe"),
    # phrases and spelling variants
    ('"rare earth"', "rare earths", "", True, "phrase-plural"),
    ('"rare earth"', "rare-earth magnets", "", True, "phrase-hyphen"),
    ('"rare earth"', "RareEarth Corp", "", True, "phrase-joined"),
    ('"rare earth"', "rare  \n earth", "", True, "phrase-whitespace-run"),
    ('"rare earth"', "Snow is rare. Earth warms", "", False, "phrase-punctuation"),
    ('"rare earth"', "earth rare", "", False, "phrase-order"),
    ('"rare earth"', "rare earthquake", "", False, "phrase-word-boundary"),
    ("rare-earth", "rare earth exports", "", True, "hyphenated-bare-word"),
    ('"rare-earth export controls"', "rare earth export-controls", "", True, "mixed-gaps"),
    ("F-1", "F1 race", "", False, "hyphen-with-digit-not-split"),
    # boolean operators
    ("china tariff", "China tariff", "", True, "implicit-and"),
    ("china tariff", "China trade", "", False, "implicit-and-needs-both"),
    ("china AND tariff", "tariff", "China", True, "and-across-fields"),
    ("tariff OR duties", "new duties", "", True, "or"),
    ("tariff NOT energy", "energy tariff", "", False, "not"),
    ("tariff NOT energy", "steel tariff", "", True, "not-absent"),
    ("tariff -energy", "energy tariff", "", False, "minus"),
    ("(tariff OR duties) china", "China duties", "", True, "parentheses"),
    ("(tariff OR duties) china", "China trade", "", False, "parentheses-and"),
    # wildcards
    ("tariff*", "tariffed goods", "", True, "wildcard"),
    ("tariff*", "tarif", "", False, "wildcard-needs-stem"),
    ("tariff*", "antitariff", "", False, "wildcard-left-boundary"),
    ('"export contr*"', "export controls", "", True, "wildcard-phrase"),
    # proximity and NEAR
    ('"rare earth export"~3', "exports of rare earth", "", True, "proximity-any-order"),
    ('"rare earth export"~1', "rare metals and earth for export", "", False, "proximity-too-far"),
    ("chip NEAR/2 export", "export of advanced chip", "", True, "near-within"),
    ("chip NEAR/2 export", "export of many very advanced chip", "", False, "near-too-far"),
    ("chip NEAR/2 export", "chip export", "", True, "near-either-order"),
    ("chip NEAR/2 export", "chip", "export", False, "near-same-field-only"),
    ("(chip OR chips) NEAR/1 ban", "ban on chips", "", True, "near-or-group"),
    ("关税 NEAR/2 加征", "加征关税", "", True, "near-cjk-characters"),
    # field scopes
    ("title:tariff", "tariff", "", True, "title-scope"),
    ("title:tariff", "news", "tariff", False, "title-scope-summary-only"),
    ("summary:tariff", "news", "tariff", True, "summary-scope"),
    ('title:("trade war" OR tariff)', "trade war", "", True, "title-scope-group"),
    # case-sensitive short capitals
    ("US", "US tariffs", "", True, "caps-exact"),
    ("US", "Let us talk", "", False, "caps-not-lowercase"),
    ("US", "Us and them", "", False, "caps-not-titlecase"),
    ("us", "US tariffs", "", True, "lowercase-any-case"),
    ('"US"', "let us", "", False, "quoted-caps-still-exact"),
    ('"US tariffs"', "us tariffs", "", False, "caps-word-in-phrase"),
    ('"US tariffs"', "US Tariffs", "", True, "phrase-other-words-insensitive"),
    ("H20", "h20 chips", "", False, "caps-with-digits"),
    ("REE", "ree", "", False, "caps-three-letters"),
    ("CHINA", "china", "", True, "long-caps-insensitive"),
    # Chinese/Japanese guard
    ("关税", "美国对华加征关税", "", True, "cjk-term"),
    ("关税", "前三季度海关税收增长", "", False, "cjk-crossing-word-rejected"),
    ("关税", "中国海关税则", "", False, "cjk-crossing-longer-word"),
    ("关税", "中美关税战", "", True, "cjk-containing-word-accepted"),
    ("关税", "關稅戰衝擊台灣", "", True, "traditional-variant"),
    ("关税", "前三季海關稅收增長", "", False, "traditional-crossing-word-rejected"),
    ("關稅", "美国对华加征关税", "", True, "query-in-traditional"),
    ("芯片禁令", "美國晶片禁令", "", True, "taiwan-vocabulary"),
    ("稀土", "依稀土墙残垣", "", False, "cjk-guard-rare-earth"),
    ("稀土", "稀土永磁", "", True, "cjk-compound"),
    ("アース", "レアアース", "", False, "katakana-run"),
    ("レアアース", "レアアース輸出", "", True, "katakana-then-kanji"),
    ("関税", "米国の関税引き上げ", "", True, "japanese-kanji"),
    ("H20", "H20芯片", "", True, "latin-next-to-han"),
]


@pytest.mark.parametrize(
    ("query", "title", "summary", "expected"),
    [pytest.param(q, t, s, e, id=i) for q, t, s, e, i in MATCH_CASES],
)
def test_match(query: str, title: str, summary: str, expected: bool) -> None:
    assert matches(query, title, summary) is expected


ERROR_CASES = [
    ("", 1, "query is empty", "empty"),
    ("   ", 1, "query is empty", "blank"),
    ("a b OR c", 5, "use parentheses: (a b) OR c or a (b OR c)", "implicit-and-with-or"),
    ("a AND b OR c", 9, "use parentheses: (a AND b) OR c or a AND (b OR c)", "and-with-or"),
    ("a OR b c", 8, "use parentheses: a OR (b c) or (a OR b) c", "or-then-and"),
    ("ta*", 1, "at least 3 letters before *", "short-wildcard"),
    ("tar*iff", 4, "only allowed at the end", "inner-wildcard"),
    ('"rare earth', 1, "unclosed quote", "unclosed-quote"),
    ("(a OR b", 1, "never closed", "unclosed-paren"),
    ("a)", 2, "unexpected ')'", "stray-paren"),
    ("()", 1, "empty parentheses", "empty-parens"),
    ('""', 1, "empty phrase", "empty-phrase"),
    ("title:", 1, "needs a term right after the colon", "field-without-term"),
    ("body:x", 1, "unknown field 'body:'", "unknown-field"),
    ("title:(summary:x)", 8, "inside a title: scope", "nested-field"),
    ("a NEAR b", 3, "NEAR needs a distance", "near-without-distance"),
    ("a NEAR/x b", 3, "NEAR needs a distance", "near-bad-distance"),
    ("a NEAR/99 b", 8, "between 0 and 50", "near-too-far"),
    ("a near/3 b", 3, "write operators in capitals", "near-lowercase"),
    ("a NEAR/3 b NEAR/3 c", 12, "NEAR cannot be chained", "near-chained"),
    ("(a b) NEAR/3 c", 1, "NEAR works on words, phrases", "near-on-and"),
    ("a NEAR/3 -b", 3, "needs a word, phrase", "near-on-not"),
    ('"a b"~', 6, "must be followed by a number", "proximity-no-number"),
    ('"a b"~99', 7, "between 0 and 50", "proximity-too-far"),
    ('"a"~3', 1, "at least two words", "proximity-one-word"),
    ("a~3", 2, "applies to quoted phrases", "proximity-bare-word"),
    ("tariff or duty", 8, "write operators in capitals (OR)", "lowercase-or"),
    ("a OR", 3, "OR needs a term after it", "trailing-or"),
    ("OR a", 1, "OR needs a term before it", "leading-or"),
    ("a AND AND b", 3, "AND needs a term after it", "double-and"),
    ("NOT", 1, "NOT needs a term after it", "lonely-not"),
    ("- a", 1, "must be followed by a term without a space", "detached-minus"),
    ("NOT tariff", 1, "only NOT parts", "only-negative"),
    ("tariff OR -energy", 1, "only NOT parts", "or-with-negative"),
    ("&", 1, "has no letters or digits", "punctuation-only"),
    ("(" * 25 + "a" + ")" * 25, 21, "nested deeper than 20", "too-deep"),
    ("a " * 2600, 5001, "longer than 5000", "too-long"),
]


@pytest.mark.parametrize(
    ("query", "column", "fragment"),
    [pytest.param(q, c, f, id=i) for q, c, f, i in ERROR_CASES],
)
def test_query_error(query: str, column: int, fragment: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(query)
    assert info.value.column == column, info.value.message
    assert fragment in info.value.message


def test_query_error_reaches_compile_matcher() -> None:
    with pytest.raises(QueryError):
        compile_matcher([TopicSpec("t", "T", "tariff"), TopicSpec("u", "U", "a b OR c")])


def test_repeated_slug_rejected() -> None:
    with pytest.raises(ValueError, match="used twice"):
        compile_matcher([TopicSpec("t", "T", "a"), TopicSpec("t", "T2", "b")])


def test_query_lists_clauses_and_terms() -> None:
    q = parse_query('title:tariff* ("rare earth" OR REE) -"energy tariff" chip NEAR/3 ban')
    assert [c.text for c in q.clauses()] == [
        "tariff*",
        '"rare earth"',
        "REE",
        '"energy tariff"',
        "chip NEAR/3 ban",
    ]
    assert [t.text for t in q.terms()][-2:] == ["chip", "ban"]


# -- scoring, min_score, weight, exclude -------------------------------------------------


def test_score_title_weighs_more_than_summary() -> None:
    m = compile_matcher([TopicSpec("t", "T", "tariff OR duties")])
    assert m.match("tariff", "")[0].score == 2.0
    assert m.match("", "tariff")[0].score == 1.0
    assert m.match("tariff", "tariff and duties")[0].score == 2.0 + 1.0 + 1.0


def test_min_score_and_weight() -> None:
    m = compile_matcher([TopicSpec("t", "T", "tariff", min_score=2.0)])
    assert m.match("", "tariff") == []
    assert m.match("tariff", "")[0].score == 2.0
    assert m.match("tariff", "", weight=0.5) == []
    assert m.match("", "tariff", weight=2.0)[0].score == 2.0
    assert m.match("tariff", "", weight=float("nan")) == []


def test_exclude_vetoes_every_topic() -> None:
    m = compile_matcher(
        [TopicSpec("t", "T", "tariff"), TopicSpec("r", "R", '"rare earth"')],
        exclude='quiz OR "sponsored content"',
    )
    assert {x.slug for x in m.match("tariff and rare earth news", "")} == {"t", "r"}
    assert m.match("Tariff quiz: rare earth edition", "") == []
    explained = m.explain("Tariff quiz", "")
    assert explained[0].excluded_by == ("quiz",)
    assert explained[0].reason.startswith("vetoed by exclude")
    assert not explained[0].matched


def test_exclude_must_have_a_positive_term() -> None:
    with pytest.raises(QueryError):
        compile_matcher([TopicSpec("t", "T", "a")], exclude="NOT b")


def test_topics_in_config_order_and_only_matched() -> None:
    m = compile_matcher(
        [TopicSpec("b", "B", "beta"), TopicSpec("a", "A", "alpha"), TopicSpec("c", "C", "gamma")]
    )
    assert [x.slug for x in m.match("gamma alpha beta", "")] == ["b", "a", "c"]
    assert [x.slug for x in m.match("alpha", "")] == ["a"]


# -- evidence: hits, positions, explanations ---------------------------------------------


def test_hit_positions_refer_to_the_callers_text() -> None:
    m = compile_matcher([TopicSpec("t", "T", "tariff* OR US")])
    title = "  US <b>tariffs</b> &amp;  Straße"
    summary = "Stra\u00dfe\u00a0\u00a0TARIFFS"
    hits = m.match(title, summary)[0].hits
    assert [(h.field, h.term, h.start, h.end) for h in hits] == [
        ("title", "US", 2, 4),
        ("title", "tariffs", 8, 15),
        ("summary", "tariffs", 8, 15),
    ]
    assert title[8:15] == "tariffs"
    assert summary[8:15] == "TARIFFS"


def test_explain_shows_every_topic_variants_and_reasons() -> None:
    m = compile_matcher(
        [
            TopicSpec("r", "Rare", '"rare earth" -planet'),
            TopicSpec("t", "Tariffs", "tariff", min_score=3.0),
            TopicSpec("v", "Visas", '"student visa"'),
        ]
    )
    result = m.explain("Rare-earths and tariffs", "")
    by_slug = {e.slug: e for e in result}
    assert list(by_slug) == ["r", "t", "v"]
    rare = by_slug["r"]
    assert rare.matched
    assert rare.clauses == ('"rare earth"',)
    assert rare.terms[0].variants == (
        "rare earth",
        "rare-earth",
        "rareearth",
        "rare earths",
        "rare-earths",
        "rareearths",
    )
    assert rare.terms[0].hits[0].term == "rare-earths"
    assert rare.terms[1].negated
    assert by_slug["t"].reason == "score 2 below min_score 3"
    assert by_slug["v"].reason == "no term found"

    as_dict = explanation_to_dict(rare)
    assert as_dict["topic"] == "r"
    assert as_dict["terms"][0]["hits"] == [  # type: ignore[index]
        {"term": "rare-earths", "field": "title", "start": 0, "end": 11}
    ]


def test_explain_lists_chinese_forms_searched() -> None:
    # Both sides are folded to simplified script, so one form covers every script; a
    # term written in traditional script also shows its Taiwan reading.
    m = compile_matcher([TopicSpec("t", "T", "关税 OR 簽證 OR 網路")])
    (e,) = m.explain("", "")
    assert [t.variants for t in e.terms] == [("关税",), ("签证",), ("网路", "网络")]


def test_explain_query_not_satisfied() -> None:
    m = compile_matcher([TopicSpec("t", "T", "china tariff")])
    (e,) = m.explain("China", "")
    assert e.reason == "query not satisfied"
    assert not e.matched


def test_topic_match_lists_fired_clauses() -> None:
    m = compile_matcher([TopicSpec("t", "T", '(tariff OR "trade war") china')])
    (match,) = m.match("China trade war", "new tariffs")
    assert match.clauses == ("tariff", '"trade war"', "china")  # query order
    assert match.score == 2.0 + 1.0 + 2.0


def test_empty_matcher() -> None:
    m = compile_matcher([])
    assert m.match("anything", "at all") == []
    assert m.explain("anything", "") == []
