"""Boilerplate rules: lines and tails of feed text that carry no news.

Owns: the list of publisher furniture that is removed before a lead is taken: "read more"
links, the WordPress "The post X appeared first on Y." footer, "Related:" lines, share
bars, photo credits, standalone wire-agency credits, adverts, copyright and "originally
published" notes, bare URLs and repeated lines. English, Spanish and Chinese variants.

Deliberately KEPT: datelines such as "WASHINGTON (Reuters) -". On wire copy republished by
another outlet they are the only attribution, they cost about 20 characters of the lead,
and the sentence splitter copes with them. Correction notes ("This story was amended...")
are kept too: they are news about the story.

Works on the line-per-block text of `bot.text.html_text.html_to_text`; must not parse HTML.
"""

from __future__ import annotations

import re

from bot.text.chars import ELLIPSIS

_I = re.IGNORECASE

_READ_MORE_WORDS = (
    r"continue reading|keep reading|read more|read the (?:full|rest of the) (?:story|article)"
    r"|read (?:the )?full (?:story|article)(?: here)?|click here to read more|full story"
    r"|seguir leyendo|sigue leyendo|continuar leyendo|leer más|lee más|ver más|leia mais"
    r"|继续阅读|阅读全文|阅读更多|查看全文|点击阅读全文|点击查看全文|更多"
)
_WHOLE_LINE = [
    # A link left alone on its line: "Continue reading...", "Read more »", "阅读全文>>".
    re.compile(rf"^\W*(?:{_READ_MORE_WORDS}|more)\W*$", _I),
    re.compile(r"^read more of this story at .{1,60}$", _I),
    # WordPress footers (core's default string, and its es/zh translations).
    re.compile(r"^(?:the|this) post .+ appeared first on .+$", _I),
    re.compile(r"^this post appeared first on .+$", _I),
    re.compile(r"^(?:la entrada|el artículo|el post) .+ se publicó primero en .+$", _I),
    re.compile(r"^文章.+最先出现在.+$"),
    # "Related: <headline>", "Lee también: ...", "相关阅读：...".
    re.compile(
        r"^(?:related(?: articles| stories| content| coverage)?|see also|also read|read also"
        r"|more on this(?: story)?|recommended|relacionad[oa]s?|noticias relacionadas"
        r"|te puede interesar|lee también|lea también|相关(?:阅读|新闻|文章|报道)|延伸阅读)"
        r"\s*(?:[:：].*)?$",
        _I,
    ),
    # Photo credits and captions as their own line (BBC "Image copyright Getty Images").
    re.compile(
        r"^\(?(?:photo(?:graph)?|image|picture|illustration|composite|foto(?:grafía)?|imagen"
        r"|ilustración|图片|图|摄影|照片)(?:\s*(?:credit|caption|copyright|source|de archivo))?"
        r"\s*[:：].{0,160}$",
        _I,
    ),
    re.compile(r"^(?:image|photo) (?:copyright|caption|source)\b.{0,200}$", _I),
    re.compile(r"^(?:credits?|crédito|créditos|图片来源|图源)\s*[:：].{0,160}$", _I),
    re.compile(
        r"^(?:advertisement|advertising|sponsored(?: content)?|publicidad|anuncio|广告)$", _I
    ),
    re.compile(r"^(?:©|\(c\)\s|copyright\s+(?:©\s*)?\d{4}|版权所有).{0,200}$", _I),
    re.compile(r"^.{0,200}\ball rights reserved\.?$", _I),
    re.compile(
        r"^(?:this (?:article|story|post) (?:was )?(?:originally|first) (?:appeared|published)"
        r"|originally published (?:at|on|in)|este artículo (?:se publicó|fue publicado)"
        r" originalmente|本文(?:首发|最初发表)于).*$",
        _I,
    ),
    re.compile(r"^(?:sign up|subscribe)\b.{0,150}\b(?:newsletter|here)\W*$", _I),
    re.compile(r"^https?://\S+$", _I),
]

# A line that only names wire agencies ("EFE", "EP", "Agencias", "AFP / Getty Images"):
# 20minutos and others print the credit as the first paragraph of the description.
_AGENCY = (
    r"efe|ep|europa press|ap|afp|reuters|dpa|ansa|xinhua|agencias|agencia|associated press"
    r"|bloomberg|pa|pa media|kyodo|yonhap|tass|ria novosti|getty images|ap photo|epa|efe tv"
    r"|新华社|中新社|法新社|路透社|美联社"
)
_AGENCY_LINE = re.compile(
    rf"^(?:{_AGENCY})(?:\s*(?:[/,|&·–-]|\by\b|\band\b|via)\s*(?:{_AGENCY}))*\.?$", _I
)

# Words a share bar is made of; a line made only of these is a share bar.
_SHARE_WORDS = frozenset(
    {
        "share", "this", "article", "story", "on", "via", "facebook", "twitter", "x",
        "whatsapp", "linkedin", "email", "e-mail", "mail", "print", "pinterest", "reddit",
        "telegram", "tweet", "copy", "link", "messenger", "flipboard", "comments", "comment",
        "save", "compartir", "comparte", "en", "esta", "noticia", "imprimir", "enviar", "por",
        "correo", "分享", "分享到", "微信", "微博", "朋友圈", "qq",
    }
)
_SHARE_ANCHORS = frozenset(
    {"share", "tweet", "facebook", "twitter", "whatsapp", "linkedin", "compartir", "分享",
     "分享到"}
)
_SHARE_SPLIT = re.compile(r"[\s|·•/,:：\-]+")

# Tails glued to the end of a line of real text. An inline "read more" must carry its
# link marker (ellipsis or arrow) so that a sentence ending in "...to read more." survives;
# Yahoo glues it straight onto the last word ("...whether the stock isRead More...").
_TAILS: list[tuple[tuple[str, ...], re.Pattern[str]]] = [
    # Each rule with words one of which its match must contain (lowercase): a substring
    # test first, because the patterns end in `$` and are tried from every position of
    # the line (24 µs per line for all four; three in four lines need none of them).
    (("read", "full story", "leyendo", "leer más", "lee más", "ver más", "leia mais", "阅读",
      "查看全文", "更多"),
     re.compile(
         rf"\s*(?:{_READ_MORE_WORDS})\s*(?:\.\.\.|…|»|›|→|>>?|\[\.\.\.\]|\[…\])\W*$", _I
     )),
    (("appeared first on",), re.compile(r"\s*the post .{1,300}? appeared first on .{1,200}$", _I)),
    (("se publicó primero en",),
     re.compile(r"\s*(?:la entrada|el artículo) .{1,300}? se publicó primero en .{1,200}$", _I)),
    # Guardian captions end with "Photograph: Name/Agency".
    (("photo", "illustration", "composite", "foto"),
     re.compile(
         r"\s+(?:photograph|photo|illustration|composite|fotografía|foto)\s*:\s*[^.!?\n]{1,80}$",
         _I,
     )),
]
# WordPress excerpts end in "[…]" or "[...]": the text was cut, say so with one ellipsis.
_EXCERPT_MARK = re.compile(r"\s*\[(?:…|\.\.\.|&hellip;)\]\s*$")


def _is_share_bar(line: str) -> bool:
    tokens = [t for t in _SHARE_SPLIT.split(line.lower()) if t]
    return bool(tokens) and all(t in _SHARE_WORDS for t in tokens) and any(
        t in _SHARE_ANCHORS for t in tokens
    )


def _is_boilerplate_line(line: str) -> bool:
    return (
        any(rule.match(line) for rule in _WHOLE_LINE)
        or _AGENCY_LINE.match(line) is not None
        or _is_share_bar(line)
    )


def _strip_tails(line: str) -> str:
    # Tails can stack ("...text. Photo: X Read more..."), so repeat until nothing changes.
    while True:
        before = line
        lower = line.lower()
        for needles, rule in _TAILS:
            if any(n in lower for n in needles):
                line = rule.sub("", line)
                lower = line.lower()
        if _EXCERPT_MARK.search(line):
            line = _EXCERPT_MARK.sub("", line).rstrip() + ELLIPSIS
        if line == before:
            return line.strip()


def strip_boilerplate(text: str) -> str:
    """Remove publisher furniture from line-per-block plain text (see the module docstring
    for the rules). Lines are kept in order; repeated lines are kept once."""
    kept: list[str] = []
    seen: set[str] = set()
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or _is_boilerplate_line(line):
            continue
        line = _strip_tails(line)
        if not line or line == ELLIPSIS or _is_boilerplate_line(line):
            continue
        key = line.casefold()
        if key in seen:
            continue
        seen.add(key)
        kept.append(line)
    return "\n".join(kept)
