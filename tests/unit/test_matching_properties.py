"""Properties: untrusted text never crashes the matcher, the parser only ever raises
QueryError, and reported positions point at the matched words in the caller's text."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import QueryError
from bot.matching import TopicSpec, compile_matcher, parse_query
from bot.matching.normalize import normalize_term

from .test_matching_labelled import load_default_matcher

DEFAULTS = load_default_matcher()
SMALL = compile_matcher(
    [
        TopicSpec("a", "A", 'tariff* OR "rare earth" OR US OR 关税 OR レアアース'),
        TopicSpec("b", "B", '"rare earth export"~4 OR (chip NEAR/3 ban) OR title:straße'),
    ],
    exclude="quiz",
)

# Text that stresses normalisation: markup, entities, whitespace, accents (precomposed and
# combining), case folding that changes length (ß, İ, ﬁ), CJK in both scripts (with the
# characters of Taiwan phrases of other lengths), surrogates, controls.
tricky = st.text(
    alphabet=st.one_of(
        st.sampled_from(
            [*"tariff rare earth US us <b></b> &amp; &#x4e2d; \t\n\u00a0\u200b",
             "ß", "İ", "ﬁ", "\u0301", "é", "关", "税", "海", "ア", "ー", "\ud800", "\x00",
             *"關稅晶片埠程式碼部落格尼日衞"]
        ),
        st.characters(),
    ),
    max_size=300,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(title=tricky, summary=tricky, weight=st.floats(allow_nan=True))
def test_any_text_never_crashes(title: str, summary: str, weight: float) -> None:
    for matcher in (SMALL, DEFAULTS):
        for match in matcher.match(title, summary, weight):
            for hit in match.hits:
                text = title if hit.field == "title" else summary
                assert 0 <= hit.start <= hit.end <= len(text)
        for explanation in matcher.explain(title, summary, weight):
            for term in explanation.terms:
                for hit in term.hits:
                    text = title if hit.field == "title" else summary
                    assert 0 <= hit.start <= hit.end <= len(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20_000).map(lambda s: s * 3))
def test_huge_text_is_bounded(text: str) -> None:
    SMALL.match(text, text)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                ["AND", "OR", "NOT", "NEAR/3", "(", ")", '"', "-", "*", "~2", "title:",
                 "summary:", " ", "tariff", "ab", "US", "关税", ":", "~"]
            ),
            st.characters(),
        ),
        max_size=40,
    ).map("".join)
)
def test_parser_only_raises_query_error(query: str) -> None:
    error: QueryError | None = None
    try:
        parse_query(query)
    except QueryError as e:
        error = e
    if error is None:
        compile_matcher([TopicSpec("t", "T", query)]).match(query, query)
    else:
        assert 1 <= error.column <= len(query) + 1
        assert error.message


# Position mapping: for Latin text with markup, entities, whitespace and case/accents that
# change lengths, the source slice of every hit normalises to the term that was found.
latin = st.lists(
    st.sampled_from(
        [*"ab tarif T US", " ", "\n", "\u00a0", "<i>", "</i>", "&amp;", "&eacute;", "ß", "İ",
         "ﬁ", "e\u0301", "\u200b", "TARIFF", "Tariffs", "rare", "earth", "-"]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=800, deadline=None)
@given(latin, latin)
def test_positions_point_at_the_match(title: str, summary: str) -> None:
    for explanation in SMALL.explain(title, summary):
        for term in explanation.terms:
            for hit in term.hits:
                text = title if hit.field == "title" else summary
                found = normalize_term(text[hit.start : hit.end])[1]
                assert found == normalize_term(hit.term)[1], (text, hit)


# match() takes short cuts (trigger terms, early exit) that explain() does not: both
# must reach the same verdict and score on any item.
topic_words = st.lists(
    st.sampled_from(
        ["tariffs", "trade war", "China", "US", "energy", "tariff", "rare earth", "planet",
         "export", "curbs", "chip", "students", "visa", "Visa", "card", "deported", "关税",
         "海关税收", "稀土", "出口", "管制", "quiz", "student visa", "levies", "goods", "arancel",
         "exportación", "restringe", " ", ", ", ". ", "\n", "<b>", "&amp;"]
    ),
    max_size=30,
).map(" ".join)


@settings(max_examples=400, deadline=None)
@given(topic_words, topic_words, st.sampled_from([1.0, 0.5, 2.0]))
def test_match_agrees_with_explain(title: str, summary: str, weight: float) -> None:
    matched = {m.slug: m.score for m in DEFAULTS.match(title, summary, weight)}
    explained = {e.slug: e.score for e in DEFAULTS.explain(title, summary, weight) if e.matched}
    assert matched == explained


def test_match_agrees_with_explain_on_labelled_items() -> None:
    from .test_matching_labelled import load_items

    for item in load_items():
        title, summary = str(item["title"]), str(item["summary"])
        matched = {m.slug for m in DEFAULTS.match(title, summary)}
        assert matched == {e.slug for e in DEFAULTS.explain(title, summary) if e.matched}
