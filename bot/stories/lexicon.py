"""Word lists behind the story features: countries, goods, verbs of direction. Pure data.

Kept apart from features.py so the lists can grow without burying the logic.
Lists are written as plain words and stemmed at import (see text.stem), so they
read as English and still match inflections.
"""

from __future__ import annotations

import re

from bot.stories.text import stem, word_set

# --- countries -----------------------------------------------------------------
# Leaders and capitals stand for their country in trade headlines ("Beijing hits
# back"); only people central to the trade war, since a dated list of names ages.
COUNTRY_WORDS: dict[str, str] = {}
for _code, _names in {
    "us": "us usa america american americans washington trump biden obama "
    "lutnick bessent rubio greer navarro fed",
    "china": "china chinese beijing prc xi mofcom pboc",
    "uk": "uk britain british london starmer boe",
    "eu": "eu european brussels ecb",
    "japan": "japan japanese tokyo ishiba abe boj",
    "canada": "canada canadian canadians ottawa trudeau",
    "mexico": "mexico mexican sheinbaum",
    "india": "india indian delhi modi",
    "germany": "germany german berlin",
    "france": "france french macron",
    "korea": "korea korean seoul",
    "taiwan": "taiwan taiwanese taipei",
    "vietnam": "vietnam vietnamese hanoi",
    "russia": "russia russian moscow putin kremlin",
    "australia": "australia australian canberra",
    "brazil": "brazil brazilian lula",
    "netherlands": "netherlands dutch",
    "italy": "italy italian",
    "spain": "spain spanish madrid",
    "switzerland": "switzerland swiss",
    "indonesia": "indonesia indonesian jakarta",
    "malaysia": "malaysia malaysian",
    "thailand": "thailand thai",
    "philippines": "philippines philippine filipino manila",
    "singapore": "singapore singaporean",
    "turkey": "turkey turkish ankara",
    "iran": "iran iranian tehran",
    "israel": "israel israeli",
    "ukraine": "ukraine ukrainian kyiv kiev",
    "south_africa": "",
    "argentina": "argentina argentine",
    "libya": "libya libyan",
}.items():
    for _name in _names.split():
        COUNTRY_WORDS[_name] = _code
COUNTRY_BIGRAMS = {
    ("united", "states"): "us",
    ("white", "house"): "us",
    ("united", "kingdom"): "uk",
    ("european", "union"): "eu",
    ("european", "commission"): "eu",
    ("south", "korea"): "korea",
    ("south", "korean"): "korea",
    ("north", "korea"): "north_korea",
    ("north", "korean"): "north_korea",
    ("hong", "kong"): "hong_kong",
    ("south", "africa"): "south_africa",
    ("new", "zealand"): "new_zealand",
    ("saudi", "arabia"): "saudi_arabia",
    ("xi", "jinping"): "china",
    ("bank", "england"): "uk",
    ("bank", "japan"): "japan",
    ("federal", "reserve"): "us",
}

# Goods that trade measures target: "100% tariff on chips" and "100% tariff on
# drugs" are two stories even when announced with the same words.
SECTOR_WORDS: dict[str, str] = {}
for _code, _names in {
    "chips": "chip chips semiconductor semiconductors chipmaker chipmakers",
    "drugs": "drug drugs pharmaceutical pharmaceuticals pharma medicine medicines",
    "steel": "steel",
    "aluminium": "aluminium aluminum",
    "autos": "auto autos car cars vehicle vehicles automaker automakers",
    "trucks": "truck trucks",
    "lumber": "lumber timber",
    "copper": "copper",
    "furniture": "furniture",
    "soybeans": "soybean soybeans",
    "rare_earths": "rare earths",
    "energy": "oil lng coal",
}.items():
    for _name in _names.split():
        SECTOR_WORDS[_name] = _code

# --- direction verbs -----------------------------------------------------------
# axis -> (words for +1, words for -1). Stemmed at import so the lists stay readable.
AXES_RAW: dict[str, tuple[str, str]] = {
    # amounts, rates, prices, markets
    "level": (
        "raise hike increase boost rise jump soar surge climb gain rally higher double "
        "triple escalate up widen",
        "cut lower reduce slash fall drop decline slide slip slump plunge sink tumble "
        "down dip halve shrink retreat narrow",
    ),
    # restrictions: tariffs, bans, export controls, sanctions, visas
    "restrict": (
        "ban block bar impose restrict curb sanction blacklist slap levy revoke tighten seize "
        "retaliate prohibit embargo expel",
        "lift unban ease scrap remove repeal rescind rollback exempt exemption waive waiver "
        "reprieve truce allow resume reopen unblock relax loosen withdraw grant",
    ),
    # courts: what the ruling does to the measure
    "legal": (
        "uphold reinstate restore stay",
        "strike struck overturn invalidate illegal unlawful unconstitutional vacate",
    ),
    "approve": (
        "approve approval greenlight accept endorse ratify clear",
        "reject veto deny refuse oppose",
    ),
    "deal": ("agree agreement seal deal accord", "collapse stall fail"),
    "custody": ("arrest detain jail charge", "release free bail acquit"),
    "trade_flow": ("export exports", "import imports"),
    "forecast": ("beat exceed", "miss"),
    "outcome": ("win won victory", "lose lost defeat"),
    "earnings": ("profit", "loss"),
    "personnel": ("appoint hire nominate", "resign quit oust sack"),
    "confirm": ("confirm", "deny"),
}
# Holding steady is its own direction: "Fed cuts" and "BoE holds" are two decisions.
HOLD = frozenset(("hold", "holds", "held", "unchanged", "steady"))
AXES: dict[str, tuple[str, int]] = {}
for _axis, (_plus, _minus) in AXES_RAW.items():
    for _w in _plus.split():
        AXES.setdefault(stem(_w), (_axis, 1))
    for _w in _minus.split():
        AXES.setdefault(stem(_w), (_axis, -1))
# "suspend tariffs" relaxes, "suspend exports" restricts: decided by the object.
PAUSE = frozenset(stem(w) for w in ["suspend", "pause", "delay", "postpone", "freeze", "halt"])
# "expand" restricts only when it is about a restriction ("expands export controls").
WIDEN = frozenset(stem(w) for w in ("expand", "broaden", "widen", "extend"))
# A court that blocks or strikes a measure relaxes it, whatever the measure is.
COURT_AGAINST = frozenset(
    stem(w) for w in ("block", "halt", "strike", "struck", "overturn", "vacate", "bar", "freeze")
)
RESTRICTION_NOUNS = frozenset(
    stem(w)
    for w in word_set(
        "tariff duty duties levy ban control sanction restriction curb embargo blacklist "
        "quota limit rule measure order"
    )
)
NEGATIONS = frozenset(("not", "no", "never", "without"))
# "refuses to ban" negates the ban; the refusal itself stays on the approve axis.
NEGATING_VERBS = frozenset(stem(w) for w in ("refuse", "decline"))
# Verbs after which the country before them is the one acting ("China hits back").
ACTION_WORDS = (
    "hit target threaten announce unveil order add retaliate begin start charge launch open"
)
ACTION = frozenset(
    [stem(w) for w in word_set(ACTION_WORDS)]
    + [w for w, (axis, _) in AXES.items() if axis in ("level", "restrict", "approve")]
    + list(PAUSE)
)
# Legal stages, most specific first: an item about an appeal often mentions the ruling.
STAGES = (
    ("appeal", frozenset(stem(w) for w in ("appeal", "appealed"))),
    ("lawsuit", frozenset(stem(w) for w in ("sue", "sued", "lawsuit", "suit"))),
    ("hearing", frozenset(stem(w) for w in ("hear", "hearing", "argument"))),
)
COURTS = {
    stem(name): court
    for name, court in (
        ("supreme", "supreme"),
        ("appeals", "appeals"),
        ("appellate", "appeals"),
        ("circuit", "appeals"),
        ("trade", "trade"),
        ("district", "district"),
    )
}
RULING = frozenset(stem(w) for w in ["rule", "ruling", "verdict", "judgment", "decision"])

# --- numbers and dates ---------------------------------------------------------
NUMBER = re.compile(
    r"(?<![\w.])(?P<cur>us\$|a\$|c\$|hk\$|\$|€|£|¥)?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s?"
    r"(?P<unit>%|percent|per cent|pct|bps|basis points?|bn|billion|bln|b|mn|million|mln|m|k|"
    r"trillion|tn|trn|cents?|points?|pts)?(?!\w)"
    r"(?:\s?(?P<cur2>euros?|yuan|yen|pounds?|dollars?|rupees?))?"
)
SCALE = {
    "bn": 1e9, "billion": 1e9, "bln": 1e9, "b": 1e9, "mn": 1e6, "million": 1e6,
    "mln": 1e6, "m": 1e6, "k": 1e3, "trillion": 1e12, "tn": 1e12, "trn": 1e12,
}  # fmt: skip
CURRENCY = {
    "us$": "usd", "$": "usd", "dollar": "usd", "dollars": "usd", "a$": "aud", "c$": "cad",
    "hk$": "hkd", "€": "eur", "euro": "eur", "euros": "eur", "£": "gbp", "pound": "gbp",
    "pounds": "gbp", "¥": "jpy", "yen": "jpy", "yuan": "cny", "rupee": "inr", "rupees": "inr",
}  # fmt: skip
MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
MONTHS = {m: i + 1 for i, m in enumerate(MONTH_NAMES)}
MONTHS["sept"] = 9
WEEKDAYS = word_set("monday tuesday wednesday thursday friday saturday sunday")
