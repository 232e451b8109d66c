"""The frame every Bot API method handler of the emulator works in, and the content rules.

Owns: the handler registry (`@handles(name, *reads)`: each handler declares the parameters
it reads and `Call.get` refuses any other, so a test can check every declared name against
api.json), typed parameter access, and the rules for what a message may contain: text and
caption rendering (parse modes, trimming, UTF-16 limits) and reply-markup validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.telegram_html import (
    MAX_CAPTION_UTF16,
    MAX_TEXT_UTF16,
    EntityParseError,
    finish_entities,
    parse_html,
    trim_text,
    utf16_len,
)
from tests.fakes.telegram_spec import ApiError, JSONDict, MethodSpec
from tests.fakes.telegram_state import EmulatorState

HandlerFn = Callable[["Call"], Any]



@dataclass(frozen=True)
class Handler:
    method: str
    reads: frozenset[str]
    fn: HandlerFn


HANDLERS: dict[str, Handler] = {}  # by lower-case method name


def handles(method: str, *reads: str) -> Callable[[HandlerFn], HandlerFn]:
    def register(fn: HandlerFn) -> HandlerFn:
        HANDLERS[method.lower()] = Handler(method, frozenset(reads), fn)
        return fn

    return register


class Call:
    """One decoded request as a handler sees it."""

    def __init__(self, state: EmulatorState, spec: MethodSpec, params: JSONDict,
                 reads: frozenset[str] | None) -> None:
        self.state = state
        self.spec = spec
        self.params = params
        self._reads = reads

    def get(self, name: str) -> Any:
        if self._reads is not None and name not in self._reads:
            raise KeyError(f"{self.spec.name} reads undeclared parameter {name!r}")
        value = self.params.get(name)
        return None if value == "" else value

    def int_param(self, name: str) -> int | None:
        value = self.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise ApiError(400, f"Bad Request: invalid {name} specified")

    def str_param(self, name: str) -> str | None:
        value = self.get(name)
        return None if value is None else str(value)

    def obj_param(self, name: str) -> Any:
        value = self.get(name)
        if isinstance(value, str):
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object")
        return value


# --- content rules --------------------------------------------------------------------------


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def render(call: Call, text_field: str, entities_field: str, *, caption: bool
           ) -> tuple[str | None, list[JSONDict], str | None]:
    """Parse a text/caption parameter like Telegram: (plain text, entities, parse_mode)."""
    raw = call.str_param(text_field)
    parse_mode = call.str_param("parse_mode")
    if raw is None:
        if caption:
            return None, [], parse_mode
        raise bad_request("message text is empty")
    if parse_mode is None:
        entities = call.obj_param(entities_field) or []
        text = raw
    elif parse_mode.lower() == "html":
        try:
            text, entities = parse_html(raw, strict_ampersand=call.state.strict_ampersand)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc.detail}") from None
        entities = finish_entities(entities)
    elif parse_mode.lower() in {"markdown", "markdownv2"}:
        text, entities = raw, []  # not emulated: kept verbatim
    else:
        raise bad_request("unsupported parse_mode")
    text, entities = trim_text(text, entities)
    if caption:
        if utf16_len(text) > MAX_CAPTION_UTF16:
            raise bad_request("message caption is too long")
        return text or None, entities, parse_mode
    if not text:
        raise bad_request("message text is empty")
    if utf16_len(text) > MAX_TEXT_UTF16:
        raise bad_request("message is too long")
    return text, entities, parse_mode


def check_markup(call: Call) -> JSONDict | None:
    markup = call.obj_param("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup  # reply keyboards, ForceReply, ReplyKeyboardRemove: stored as given
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    actions = set(call.state.spec.types["InlineKeyboardButton"].fields) - {
        "text", "icon_custom_emoji_id", "style"}
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not button.get("text"):
            raise bad_request("can't parse inline keyboard button: Text must be non-empty")
        if not actions & set(button):
            raise bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the "
                "inline keyboard"
            )
        if "callback_data" in button and not 1 <= len(
                str(button["callback_data"]).encode()) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button and not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
            raise call.state.spec.error("bad-request-button-url-invalid")
    return markup
