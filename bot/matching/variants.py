"""Explicit spelling variants of a term: plurals and hyphen/space/joined forms.

We never stem silently: every form searched for is generated here, listed by
`--explain`, and nothing else matches. For `rare earth`:
`rare earth, rare-earth, rareearth, rare earths, rare-earths, rareearths`.

Plurals (last word only, Latin letters, >= 3 letters, not case-sensitive, no wildcard,
not a name: a word written with an initial capital, `China`, `Beijing`, gets none):
- English: +s; +es after s/x/z/ch/sh; consonant+y -> ies. Words already ending in a
  single `s` are taken as plural and left alone.
- Spanish: +es after the consonant endings of Spanish singulars (-ion, -el, -al, -il,
  -ol, -or, -er, -ur, -dad, -tad: `arancel` -> `aranceles`, `exportacion` ->
  `exportaciones`, `control` -> `controles`); z -> ces. Vowel endings take +s as in
  English. Bare -n/-r/-ar are left out on purpose: they would turn English words into
  other English words (`ban` -> `banes`, `war` -> `wares`).
The term's language is unknown, so both rule sets apply; an occasional non-word
(`arancels`, `steeles`) costs nothing, a real word would.

Spacing (phrases and hyphenated words): each gap is a space or a hyphen (all
combinations up to 4 words, otherwise uniform), plus the joined form for two words.

Chinese: no script variants. Terms and text are both folded to simplified script
(`normalize`), so `关税` is searched once and finds `關稅` and `關税` too; Taiwan
vocabulary (`晶片` for `芯片`) is read in the text (see `chinese`). A term written in
traditional script is shown folded, plus its Taiwan reading when that differs (`網路`:
`网路`, `网络`), see `chinese.chinese_forms`.

Case: a word of at most 4 characters, with at least one letter, written all in
capitals (`US`, `EU`, `H20`, `REE`, `F-1`), bare or inside a quoted phrase, only
matches in capitals (`US` is not "us"). Write it in lower case to match any case;
longer words (`CHINA`) and lower-case phrases are case-insensitive.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from bot.matching.chinese import chinese_forms
from bot.matching.normalize import fold_accents, normalize_term

CASE_SENSITIVE_MAX = 4
_VOWELS = "aeiou"
_SPANISH_ES = ("ion", "el", "al", "il", "ol", "or", "er", "ur", "dad", "tad")
_MAX_COMBINED_GAPS = 3


@dataclass(frozen=True, slots=True)
class Variant:
    """One form to search for."""

    text: str  # as shown to the operator
    key: str  # normalised, case-folded: what the automaton searches
    case_checks: tuple[tuple[int, str], ...]  # (offset in key, exact text) that must match case
    prefix: bool  # wildcard: the key may be followed by more letters


def is_case_sensitive(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    return (
        0 < len(word) <= CASE_SENSITIVE_MAX
        and bool(letters)
        and all(ch.isupper() for ch in letters)
    )


def plurals(word: str) -> list[str]:
    """Plural forms of one word (accent-folded, since matching ignores accents)."""
    word = fold_accents(word)
    if len(word) < 3 or not word.isalpha() or not word.isascii():
        return []
    w = word.lower()
    out: list[str] = []
    if w.endswith(("ss", "x", "z", "ch", "sh")):
        out.append(word + "es")
    elif w.endswith("s"):
        return []
    elif w.endswith("y") and w[-2] not in _VOWELS:
        out.append(word[:-1] + "ies")
    else:
        out.append(word + "s")
    if w.endswith(_SPANISH_ES):
        out.append(word + "es")
    elif w.endswith("z"):
        out.append(word[:-1] + "ces")
    return list(dict.fromkeys(out))


def spellings(words: tuple[str, ...]) -> list[str]:
    """Space/hyphen/joined spellings of a multi-word term, the written form first."""
    if len(words) == 1:
        return [words[0]]
    gaps = len(words) - 1
    seps: list[tuple[str, ...]]
    if gaps <= _MAX_COMBINED_GAPS:
        seps = list(product((" ", "-"), repeat=gaps))
    else:
        seps = [(" ",) * gaps, ("-",) * gaps]
    out = []
    for combo in seps:
        text = words[0]
        for sep, word in zip(combo, words[1:], strict=True):
            text += sep + word
        out.append(text)
    if len(words) == 2:
        out.append(words[0] + words[1])
    return out


def term_variants(words: tuple[str, ...], wildcard: bool) -> list[Variant]:
    """Every form of a term, deduplicated on the searched key."""
    sensitive = [is_case_sensitive(w) for w in words]
    forms: list[tuple[str, ...]] = [words]
    last = words[-1]
    is_name = last[:1].isupper() and last[1:].islower()
    if not wildcard and not sensitive[-1] and not is_name:
        forms.extend((*words[:-1], plural) for plural in plurals(words[-1]))
    out: list[Variant] = []
    seen: set[str] = set()
    for form in forms:
        for spelled in spellings(form):
            for text in chinese_forms(spelled):
                variant = _variant(text, form, sensitive, wildcard)
                if variant is not None and variant.key not in seen:
                    seen.add(variant.key)
                    out.append(variant)
    return out


def _variant(
    text: str, form: tuple[str, ...], sensitive: list[bool], prefix: bool
) -> Variant | None:
    cased, key = normalize_term(text)
    if not key:
        return None
    checks: list[tuple[int, str]] = []
    if any(sensitive):
        if len(cased) != len(key):
            # Case folding changed the length (e.g. ß): offsets would not line up, so
            # this form is matched case-insensitively rather than wrongly.
            return Variant(text, key, (), prefix)
        pos = 0
        for word, exact in zip(form, sensitive, strict=True):
            w_cased, _ = normalize_term(word)
            found = cased.find(w_cased, pos)
            if found < 0:
                continue
            if exact:
                checks.append((found, w_cased))
            pos = found + len(w_cased)
    return Variant(text, key, tuple(checks), prefix)
