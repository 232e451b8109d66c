"""Chinese scripts: simplified and traditional terms and text match each other, Taiwan
vocabulary is read in traditional text, positions survive phrases that change length,
and English-only use never loads OpenCC or jieba."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import TopicSpec, compile_matcher
from bot.matching.chinese import chinese_forms, fold_chinese, to_simplified

ROOT = Path(__file__).resolve().parents[2]


def matches(query: str, title: str, summary: str = "") -> bool:
    return bool(compile_matcher([TopicSpec("t", "T", query)]).match(title, summary))


CASES = [
    # script: both sides folded to simplified
    ("签证", "學生簽證收緊", True, "simplified-term-traditional-text"),
    ("簽證", "学生签证收紧", True, "traditional-term-simplified-text"),
    ("簽證", "學生簽證收緊", True, "traditional-term-traditional-text"),
    ("关税", "中美關税戰升級", True, "hk-spelling-of-tax"),
    ("卫生", "公共衞生事件", True, "hk-variant-character"),
    ("捍衞", "捍卫主权", True, "hk-variant-in-term"),
    ("出口管制", "美國擴大對華出口管制", True, "traditional-phrase"),
    ("输出规制", "日本が半導体の輸出規制を強化", True, "japanese-kanji-folded"),
    # Taiwan vocabulary, read in text written in traditional script
    ("芯片", "美國擴大晶片出口管制", True, "mainland-term-taiwan-text"),
    ("软件", "臺灣軟體業者受衝擊", True, "mainland-term-taiwan-software"),
    ("网络", "網路攻擊頻傳", True, "mainland-term-taiwan-network"),
    ("芯片禁令", "網際網路上的美國晶片禁令", True, "taiwan-text-with-longer-phrase"),
    # ... and a traditional term is also searched in its mainland vocabulary
    ("軟體", "国产软件崛起", True, "taiwan-term-mainland-text"),
    ("網路", "网络安全法实施", True, "taiwan-term-mainland-network"),
    ("美國晶片", "美国芯片出口管制", True, "taiwan-phrase-mainland-text"),
    # mainland text is not rewritten with Taiwan vocabulary: 程序 (program) is not
    # 进程 (process), which a tw2sp fold of every text would make it
    ("进程", "程序员加班成常态", False, "mainland-words-not-rewritten"),
    ("芯片", "晶片", False, "neutral-text-not-read-as-taiwan"),
    # the word guard works on folded text, in either script
    ("关税", "前三季海關稅收增長", False, "guard-traditional"),
    ("签证", "拒簽證據不足", False, "guard-traditional-crossing"),
    ("稀土", "稀土永磁", True, "guard-accepts-compound"),
]


@pytest.mark.parametrize(
    ("query", "title", "expected"),
    [pytest.param(q, t, e, id=i) for q, t, e, i in CASES],
)
def test_chinese_match(query: str, title: str, expected: bool) -> None:
    assert matches(query, title) is expected


def test_fold_keeps_length_and_leaves_simplified_text_alone() -> None:
    assert fold_chinese("美国对华加征关税") == ("美国对华加征关税", None)
    assert fold_chinese("美國對華加徵關稅") == ("美国对华加征关税", None)
    folded, taiwan = fold_chinese("美國晶片禁令")
    assert folded == "美国晶片禁令"
    assert taiwan is not None
    assert taiwan.text == "美国芯片禁令"
    assert to_simplified("關稅 tariffs") == "关税 tariffs"
    # Japanese: kanji folded, no Taiwan reading
    assert fold_chinese("半導体の輸出規制") == ("半导体の输出规制", None)


def test_phrase_of_another_length_keeps_the_rest_of_its_run() -> None:
    text = "網際網路上的美國晶片禁令，臺灣的軟體和網際網路產業"
    folded, taiwan = fold_chinese(text)
    assert taiwan is not None
    assert taiwan.text == "网际网路上的美国芯片禁令，台湾的软件和网际网路产业"
    assert len(folded) == len(text)


def test_shorter_and_longer_phrase_in_one_run_never_shift_a_hit() -> None:
    # 部落格 -> 博客 is one shorter, 尼日 -> 尼日尔 one longer: the run keeps its length,
    # but the Taiwan reading of what lies between them sits one character to the left.
    shifted = "部落格說美國晶片禁令與尼日無關"
    _, taiwan = fold_chinese(shifted)
    assert taiwan is not None
    assert len(taiwan.text) == len(shifted)
    assert taiwan.text[5:9] == "芯片禁令"  # in the source: 晶片禁令 at 6..10
    assert not taiwan.confirms(5, 9)
    assert not matches("芯片禁令", shifted)  # no hit rather than a wrong one
    assert not matches("芯片", "埠晶片程式碼")  # 埠 -> 端口, 程式碼 -> 代码 (hypothesis)
    # a longer phrase in another run: the run of the hit keeps its place
    apart = "美國晶片禁令，與尼日無關"
    (match,) = compile_matcher([TopicSpec("t", "T", "芯片禁令")]).match(apart, "")
    assert [apart[h.start : h.end] for h in match.hits] == ["晶片禁令"]
    # before the shift, in the same run: confirmed
    assert matches("软件", "軟體部落格說尼日")
    # part of a longer phrase (資料庫 -> 数据库): confirmed by what surrounds it
    (match,) = compile_matcher([TopicSpec("t", "T", "数据")]).match("雲端資料庫", "")
    assert [(h.start, h.end) for h in match.hits] == [(2, 4)]


def test_hit_offsets_point_at_the_source_text() -> None:
    m = compile_matcher([TopicSpec("c", "Chips", "芯片禁令 OR 网络"), TopicSpec("t", "T", "关税")])
    title = "部落格作者說，美國對尼日實施晶片禁令"
    summary = "<b>網路</b>上議論紛紛，美國對華加徵關稅。"
    by_slug = {x.slug: x for x in m.match(title, summary)}
    chips = [(h.field, h.term, h.start, h.end) for h in by_slug["c"].hits]
    assert chips == [
        ("title", "芯片禁令", title.index("晶片禁令"), title.index("晶片禁令") + 4),
        ("summary", "网络", 3, 5),
    ]
    assert summary[3:5] == "網路"
    (tariff,) = by_slug["t"].hits
    assert summary[tariff.start : tariff.end] == "關稅"
    # explanations report the same positions
    (chips_explained, _) = m.explain(title, summary)
    found = {(h.term, h.start, h.end) for t in chips_explained.terms for h in t.hits}
    assert ("芯片禁令", title.index("晶片禁令"), title.index("晶片禁令") + 4) in found


def test_hit_found_in_both_readings_is_reported_once() -> None:
    m = compile_matcher([TopicSpec("t", "T", "禁令")])
    (match,) = m.match("美國晶片禁令", "")
    assert [(h.start, h.end) for h in match.hits] == [(4, 6)]


def test_chinese_forms() -> None:
    assert chinese_forms("关税") == ["关税"]
    assert chinese_forms("關稅") == ["关税"]
    assert chinese_forms("軟體") == ["软体", "软件"]
    assert chinese_forms("網際網路") == ["网际网路", "互联网"]  # a term may change length
    assert chinese_forms("tariff") == ["tariff"]


# Offsets for any mix of scripts and Taiwan phrases, some of which change length: each
# hit covers the characters of the caller's text that the form found stands for.
chinese_text = st.lists(
    st.sampled_from(
        ["晶片", "禁令", "網際網路", "部落格", "尼日", "軟體", "關稅", "关税", "芯片", "美國",
         "網路", "，", "。", "a", "埠", "程式碼", "记忆体", "記憶體", "影片", "的", "\ud800"]
    ),
    max_size=20,
).map("".join)
CHINESE = compile_matcher(
    [TopicSpec("a", "A", "芯片 OR 禁令 OR 关税 OR 网络 OR 软件 OR 互联网 OR 美国"),
     TopicSpec("b", "B", "軟體 OR 網際網路 OR 晶片")]
)
TW2SP = opencc.OpenCC("tw2sp")


@settings(max_examples=600, deadline=None)
@given(chinese_text, chinese_text)
def test_chinese_hits_point_at_the_match(title: str, summary: str) -> None:
    for explanation in CHINESE.explain(title, summary):
        for term in explanation.terms:
            for hit in term.hits:
                source = (title if hit.field == "title" else summary)[hit.start : hit.end]
                # the source characters, in simplified script or read as Taiwan vocabulary
                readings = {to_simplified(source), to_simplified(TW2SP.convert(source))}
                assert hit.term in readings, (title, summary, hit)


def _run(code: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter (what is loaded depends on what ran before)."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    result: dict[str, object] = json.loads(out.splitlines()[-1])
    return result


PROBE = """
    import json, sys
    from bot.matching import TopicSpec, compile_matcher
    from bot.matching import chinese, cjk

    def state():
        return {
            "opencc": "opencc" in sys.modules,
            "rjieba": "rjieba" in sys.modules,
            "table": chinese._script_table.cache_info().misses,
            "tw2sp": chinese._tw2sp.cache_info().misses,
            "jieba": cjk._jieba.cache_info().misses,
        }
"""


def test_english_only_never_loads_converters_or_jieba() -> None:
    result = _run(PROBE + """
    import bot.config
    m = compile_matcher([TopicSpec("t", "T", 'tariff* OR "rare earth" OR arancel*')])
    assert m.match("US tariffs on rare earths", "Los aranceles de exportación suben")
    m.explain("Chinese tariffs", "")
    # Chinese text costs nothing either when no term has Han characters
    assert m.match("美國對華加徵關稅 tariffs", "中國稀土出口管制")
    print(json.dumps(state()))
    """)
    assert result == {"opencc": False, "rjieba": False, "table": 0, "tw2sp": 0, "jieba": 0}


def test_chinese_dependencies_load_on_first_use() -> None:
    result = _run(PROBE + """
    steps = {}
    m = compile_matcher([TopicSpec("t", "T", "tariff OR 关税")])
    steps["compiled"] = state()
    m.match("US tariffs", "")
    steps["english"] = state()
    m.match("美国对华加征关税", "")
    steps["simplified"] = state()
    m.match("美國對華加徵關稅", "")
    steps["traditional"] = state()
    print(json.dumps(steps))
    """)
    # the table is built for the Chinese term; jieba waits for a Chinese hit, tw2sp for
    # traditional text (or a traditional term)
    compiled = {"opencc": True, "rjieba": False, "table": 1, "tw2sp": 0, "jieba": 0}
    assert result["compiled"] == compiled
    assert result["english"] == compiled
    assert result["simplified"] == {**compiled, "rjieba": True, "jieba": 1}
    assert result["traditional"] == {**compiled, "rjieba": True, "jieba": 1, "tw2sp": 1}
