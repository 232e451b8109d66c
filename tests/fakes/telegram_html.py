"""Telegram's HTML parse mode, re-implemented for the Bot API emulator.

Owns: turning `parse_mode=HTML` text into (plain text, MessageEntity list) the way the Bot API
server does (a byte-oriented scanner; offsets and lengths of entities in UTF-16 code units;
errors carry the byte offset of the offending tag), plus the trimming and length rules that
apply to every message text.

Deliberate difference from Telegram: by default a `&` that does not start `&lt;`, `&gt;`,
`&amp;`, `&quot;` or a numeric reference ending in `;` is an error here, while Telegram keeps
it literally. Being stricter catches feed text that was not escaped. Pass
`strict_ampersand=False` for Telegram's lenient behaviour.

Does not cover: MarkdownV2/Markdown parse modes, automatic detection of URLs, mentions and
hashtags in plain text, link checks beyond "has a scheme or looks like a host".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_TEXT_UTF16 = 4096
MAX_CAPTION_UTF16 = 1024

_SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "span", "pre", "code", "blockquote",
    }
)
_SIMPLE_ENTITY = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler",
}
_NAMED_REFERENCES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACES = frozenset(b" \t\r\n\0\v\f")
_TRIMMED = " \t\r\n"


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; `detail` is the part after "can't parse entities: "."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    result_pos: int  # index in the output string, for <a> without href
    expandable: bool = False


def _is_alnum(byte: int) -> bool:
    return chr(byte).isascii() and chr(byte).isalnum()


def _decode_reference(data: bytes, pos: int) -> tuple[str, int] | None:
    """Decode the character reference starting with the `&` at `pos` (Telegram's rules:
    only four named references, numeric ones in decimal or hex, the `;` optional)."""
    end = pos + 1
    code = 0
    if data[end] == ord("#"):
        end += 1
        hexadecimal = data[end] in b"xX"
        if hexadecimal:
            end += 1
        digits = b"0123456789abcdefABCDEF" if hexadecimal else b"0123456789"
        begin = end
        while data[end] != 0 and data[end] in digits:
            code = code * (16 if hexadecimal else 10) + int(chr(data[end]), 16)
            end += 1
            if code >= 0x10FFFF:
                return None
        if end == begin or code == 0 or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while chr(data[end]).isascii() and chr(data[end]).isalpha():
            end += 1
        named = _NAMED_REFERENCES.get(data[pos + 1 : end])
        if named is None:
            return None
        char = named
    if data[end] == ord(";"):
        end += 1
    return char, end


def _link_entity(url: str, offset: int, length: int) -> dict[str, Any] | None:
    if url.startswith("tg://user?id="):
        user_id = url.removeprefix("tg://user?id=")
        if user_id.isdigit():
            user = {"id": int(user_id), "is_bot": False, "first_name": ""}
            return {"type": "text_mention", "offset": offset, "length": length, "user": user}
        return None
    if "://" not in url:
        host = url.split("/", 1)[0]
        if "." not in host or " " in url:
            return None  # Telegram silently drops links it cannot check
        url = "http://" + url
    return {"type": "text_link", "offset": offset, "length": length, "url": url}


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML; return the plain text and its entities, sorted like Telegram's."""
    data = text.encode("utf-8") + b"\0"
    size = len(data) - 1
    out: list[str] = []
    out_len = 0  # characters in `out`
    utf16_offset = 0
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i = 0
    plain_start = 0  # start of the pending run of ordinary bytes

    def flush(upto: int) -> None:
        nonlocal out_len, utf16_offset
        if upto > plain_start:
            chunk = data[plain_start:upto].decode("utf-8")
            out.append(chunk)
            out_len += len(chunk)
            utf16_offset += utf16_len(chunk)

    while i < size:
        byte = data[i]
        if byte == ord("&"):
            decoded = _decode_reference(data, i)
            if decoded is not None and (not strict_ampersand or data[decoded[1] - 1] == ord(";")):
                flush(i)
                char, i = decoded
                out.append(char)
                out_len += 1
                utf16_offset += utf16_len(char)
                plain_start = i
                continue
            if strict_ampersand:
                raise EntityParseError(f'Unescaped "&" at byte offset {i}; use "&amp;"')
        if byte != ord("<"):
            i += 1
            continue
        flush(i)
        begin = i
        i += 1
        if data[i] != ord("/"):
            while data[i] not in _SPACES and data[i] != ord(">"):
                i += 1
            if data[i] == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            tag = data[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _SUPPORTED_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            expandable = False
            while data[i] != ord(">"):
                while data[i] != 0 and data[i] in _SPACES:
                    i += 1
                if data[i] == ord(">"):
                    break
                name_begin = i
                while data[i] not in _SPACES and data[i] not in b"=>":
                    i += 1
                attribute = data[name_begin:i].decode("utf-8", "replace")
                if not attribute:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                    )
                while data[i] != 0 and data[i] in _SPACES:
                    i += 1
                if data[i] != ord("="):
                    if tag == "blockquote" and attribute == "expandable":
                        expandable = True
                        continue
                    raise EntityParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin}'
                    )
                i += 1
                while data[i] != 0 and data[i] in _SPACES:
                    i += 1
                if data[i] == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                value_chars: list[str] = []
                if data[i] not in b"'\"":
                    token_begin = i
                    while _is_alnum(data[i]) or data[i] in b".-":
                        i += 1
                    value = data[token_begin:i].decode("ascii").lower()
                    if data[i] not in _SPACES and data[i] != ord(">"):
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset {token_begin}"
                        )
                else:
                    quote = data[i]
                    i += 1
                    value_begin = i
                    while data[i] != quote and data[i] != 0:
                        if data[i] == ord("&"):
                            decoded = _decode_reference(data, i)
                            if decoded is not None:
                                value_chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        run = i
                        i += 1
                        while data[i] not in (quote, 0, ord("&")):
                            i += 1
                        value_chars.append(data[run:i].decode("utf-8"))
                    if data[i] == 0:
                        raise EntityParseError(
                            f"Unclosed end of attribute value at byte offset {value_begin}"
                        )
                    i += 1
                    value = "".join(value_chars)
                if tag == "a" and attribute == "href":
                    argument = value
                elif tag == "code" and attribute == "class" and value.startswith("language-"):
                    argument = value.removeprefix("language-")
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value.removeprefix("tg-")
                elif tag == "tg-emoji" and attribute == "emoji-id":
                    argument = value
                elif tag == "blockquote" and attribute == "expandable":
                    expandable = True
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            if tag == "tg-emoji" and not argument.isdigit():
                raise EntityParseError("Invalid custom emoji identifier specified")
            stack.append(_OpenTag(tag, argument, utf16_offset, out_len, expandable))
        else:
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
            while data[i] not in _SPACES and data[i] != ord(">"):
                i += 1
            end_tag = data[begin + 2 : i].decode("utf-8", "replace").lower()
            while data[i] != 0 and data[i] in _SPACES:
                i += 1
            if data[i] != ord(">"):
                raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
            opened = stack.pop()
            if end_tag and end_tag != opened.name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {begin}, expected "</{opened.name}>", '
                    f'found "</{end_tag}>"'
                )
            length = utf16_offset - opened.utf16_offset
            if length > 0:
                _close_entity(opened, length, "".join(out)[opened.result_pos :], entities)
        i += 1
        plain_start = i
    flush(size)
    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"'
        )
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(out), entities


def _close_entity(
    opened: _OpenTag, length: int, inner_text: str, entities: list[dict[str, Any]]
) -> None:
    offset = opened.utf16_offset
    last = entities[-1] if entities else None
    same_span = last is not None and (last["offset"], last["length"]) == (offset, length)
    if opened.name in _SIMPLE_ENTITY:
        entities.append({"type": _SIMPLE_ENTITY[opened.name], "offset": offset, "length": length})
    elif opened.name == "tg-emoji":
        entities.append(
            {"type": "custom_emoji", "offset": offset, "length": length,
             "custom_emoji_id": opened.argument}
        )
    elif opened.name == "a":
        link = _link_entity(opened.argument or inner_text, offset, length)
        if link is not None:
            entities.append(link)
    elif opened.name == "pre":
        if same_span and last is not None and last["type"] == "code" and "language" in last:
            last["type"] = "pre"  # <pre><code class="language-x">...</code></pre>
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif opened.name == "code":
        if same_span and last is not None and last["type"] == "pre" and opened.argument:
            last["language"] = opened.argument
        else:
            entity: dict[str, Any] = {"type": "code", "offset": offset, "length": length}
            if opened.argument:
                entity["language"] = opened.argument
            entities.append(entity)
    elif opened.name == "blockquote":
        kind = "expandable_blockquote" if opened.expandable else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


def finish_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop internal-only keys (a `code` entity keeps no language in the Bot API)."""
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return entities


def trim_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading/trailing whitespace as Telegram does, shifting and clipping entities."""
    stripped = text.strip(_TRIMMED)
    if stripped == text:
        return text, entities
    head = utf16_len(text[: len(text) - len(text.lstrip(_TRIMMED))])
    total = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - head, 0)
        end = min(entity["offset"] + entity["length"] - head, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept
