"""Publisher text for test data, read from the shared corpus at run time.

The news-feed texts in ../shared/corpus/news-feeds are the publishers' copyright
(shared/corpus/README.md, section 2 "Licences": "Keep them as local test fixtures; do
not republish"), and this repository is open source. So test data files keep only a
REFERENCE to a feed entry plus our own labels, and the text is loaded here:

    {"file": "news-feeds/<feed>.xml", "entry": <index>, "title_sha256": "<12 hex>"}

`entry` is the index in `feedparser.parse(file)["entries"]`; `title_sha256` is the first
12 hex digits of the SHA-256 of that entry's title as feedparser returns it (UTF-8), so
that a changed corpus file or feedparser version fails loudly instead of silently
testing other text. The corpus always lies beside the repository (../shared/corpus, in
CI too); a missing file is an error, not a skip.

Used by tests/unit/test_matching_labelled.py, tests/unit/test_render.py,
tests/unit/test_stories_grouping.py, bench/match.py and bench/stories.py.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import feedparser

CORPUS_DIR = Path(__file__).resolve().parents[3] / "shared" / "corpus"
TITLE_SHA_CHARS = 12
LABELLED_SUMMARY_CHARS = 400

_TAG = re.compile(r"<[^>]*>")


class CorpusError(AssertionError):
    """A reference that does not resolve: missing file, bad index or title drift."""


def title_sha256(title: str) -> str:
    return hashlib.sha256(title.encode("utf-8")).hexdigest()[:TITLE_SHA_CHARS]


@cache
def feed_entries(file: str) -> tuple[Any, ...]:
    """The entries feedparser reads from `file` (relative to CORPUS_DIR), parsed once."""
    path = CORPUS_DIR / file
    if not path.is_file():
        raise CorpusError(
            f"{path} not found: tests read publisher text from the shared corpus at "
            f"{CORPUS_DIR} (see tests/support/corpus.py)"
        )
    return tuple(feedparser.parse(path.read_bytes())["entries"])


def entry(file: str, index: int, title_sha: str) -> Any:
    """The feedparser entry `index` of `file`, checked against `title_sha`."""
    entries = feed_entries(file)
    if not 0 <= index < len(entries):
        raise CorpusError(f"{file}: no entry {index} (feedparser reads {len(entries)})")
    found = entries[index]
    got = title_sha256(found.get("title", ""))
    if got != title_sha:
        raise CorpusError(
            f"{file} entry {index}: title SHA-256 prefix is {got}, the reference says "
            f"{title_sha}; the corpus file or feedparser changed, so the labels may no "
            "longer fit this entry"
        )
    return found


def entry_text(file: str, index: int, title_sha: str) -> tuple[str, str]:
    """(title, summary) of the entry exactly as feedparser gives them (summary is HTML)."""
    found = entry(file, index, title_sha)
    return str(found.get("title", "")), str(found.get("summary", ""))


def fold_spaces(text: str) -> str:
    return " ".join(text.split())


def flat_text(markup: str) -> str:
    """Every tag becomes a space, entities are decoded, whitespace folds to one space.

    Deliberately cruder than bot.summary.html_to_text (which drops soft hyphens, keeps
    line breaks and is the code under test elsewhere): this is the transformation the
    labelled items were made with, and it keeps a feed's quirks (mojibake, bullets,
    "word ." where a link ended) as they are.
    """
    return fold_spaces(html.unescape(_TAG.sub(" ", markup)))


def excerpt(text: str, keep: Sequence[Sequence[int]]) -> str:
    """The character spans `keep` ([start, end) pairs) of `text`, joined."""
    return "".join(text[start:end] for start, end in keep)


def straight_apostrophes(text: str) -> str:
    return text.replace("\u2019", "'")


# --- tests/data/matching/labelled.jsonl ---------------------------------------------------------

def labelled_text(source: str, ref: dict[str, Any]) -> tuple[str, str]:
    """Title and summary of a labelled corpus row: `source` is "corpus:<file>", `ref` its
    {"entry", "title_sha256"}; the title with whitespace folded, the summary flattened
    (see flat_text) and cut to LABELLED_SUMMARY_CHARS characters."""
    file = source.removeprefix("corpus:")
    title, summary = entry_text(file, int(ref["entry"]), str(ref["title_sha256"]))
    return fold_spaces(title), flat_text(summary)[:LABELLED_SUMMARY_CHARS]


def load_labelled(path: Path) -> list[dict[str, Any]]:
    """The rows of labelled.jsonl with `title` and `summary` filled in for corpus rows."""
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            ref = row.pop("corpus", None)
            if ref is not None:
                row["title"], row["summary"] = labelled_text(str(row["source"]), ref)
            rows.append(row)
    return rows


# --- tests/data/stories/*.jsonl -----------------------------------------------------------------

def story_item_text(ref: dict[str, Any]) -> tuple[str, str]:
    """Title and summary of a labelled story item from its `corpus` reference:
    {"file", "entry", "title_sha256", "keep"?, "straight_apostrophes"?}. The title has
    its whitespace folded; the summary is flattened (flat_text), its apostrophes (U+2019)
    become ASCII when asked, and `keep` ([start, end) character spans of that text)
    selects the excerpt the group was labelled with (default: all of it)."""
    title, summary = entry_text(str(ref["file"]), int(ref["entry"]), str(ref["title_sha256"]))
    text = flat_text(summary)
    if ref.get("straight_apostrophes"):
        text = straight_apostrophes(text)
    if "keep" in ref:
        text = excerpt(text, ref["keep"])
    return fold_spaces(title), text


def story_lines(lines: Iterable[str]) -> list[str]:
    """JSON lines of labelled story groups with corpus items' title and summary filled
    in, ready for bot.stories.evaluation.parse_groups."""
    out: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        group = json.loads(line)
        for item in group["items"]:
            ref = item.pop("corpus", None)
            if ref is not None:
                item["title"], item["summary"] = story_item_text(ref)
        out.append(json.dumps(group, ensure_ascii=False))
    return out


def load_story_lines(path: Path) -> list[str]:
    return story_lines(path.read_text(encoding="utf-8").splitlines())
