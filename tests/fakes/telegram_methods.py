"""Bot API method handlers of the emulator.

Owns what each specially emulated method does to the state and answers (see telegram_call.py
for the handler frame). Methods without a handler get `generic`: chat checks, flood limits
and a spec-shaped result (a recorded Message for Message-returning methods, `true` for
Boolean ones). Handlers run with `state.lock` held and raise `ApiError` for Telegram errors.
"""

from __future__ import annotations

import copy
import json
import re
import time
from typing import Any

from tests.fakes.telegram_call import (
    HANDLERS,
    Call,
    bad_request,
    check_markup,
    handles,
    render,
)
from tests.fakes.telegram_spec import ApiError, JSONDict, MethodSpec, synthesize
from tests.fakes.telegram_state import (
    EmulatorState,
    MessageVersion,
    SentMessage,
    is_rate_limited_method,
)

QUERY_TOO_OLD = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


def dispatch(state: EmulatorState, spec: MethodSpec, params: JSONDict) -> Any:
    handler = HANDLERS.get(spec.name.lower())
    if handler is None:
        return generic(Call(state, spec, params, None))
    return handler.fn(Call(state, spec, params, handler.reads))


def find_message(call: Call, missing: str) -> SentMessage:
    """The message named by chat_id + message_id, or `missing` (a corpus error stem)."""
    chat_id = call.get("chat_id")
    if chat_id is None:
        raise bad_request("chat_id is empty")
    message_id = call.int_param("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    chat = call.state.resolve_chat(chat_id, sending=True)
    message = call.state.messages.get((chat.id, message_id))
    if message is None or message.deleted:
        raise call.state.spec.error(missing)
    return message


def new_message(call: Call, chat_id: int, *, text: str | None, entities: list[JSONDict],
                parse_mode: str | None, raw_text: str | None,
                reply_markup: JSONDict | None) -> SentMessage:
    state = call.state
    chat = state.chats[chat_id]
    reply_to: int | None = None
    reply = call.obj_param("reply_parameters")
    if isinstance(reply, dict) and reply.get("message_id") is not None:
        target = state.messages.get((chat.id, int(reply["message_id"])))
        if target is not None and not target.deleted:
            reply_to = target.message_id
        elif not reply.get("allow_sending_without_reply"):
            raise state.spec.error("bad-request-reply-message-not-found")
    state.check_rate(chat)
    options = call.obj_param("link_preview_options") if "link_preview_options" in (
        call.spec.fields) else None
    message = SentMessage(
        chat_id=chat.id,
        message_id=state.allocate_message_id(chat),
        date=state.now(),
        method=call.spec.name,
        text=text,
        entities=entities,
        raw_text=raw_text,
        parse_mode=parse_mode,
        reply_markup=reply_markup,
        message_thread_id=call.int_param("message_thread_id"),
        reply_to_message_id=reply_to,
        link_preview_options=options if isinstance(options, dict) else None,
        disable_notification=bool(call.get("disable_notification")),
        protect_content=bool(call.get("protect_content")),
    )
    return state.add_message(message)


_SEND_READS = ("chat_id", "message_thread_id", "disable_notification", "protect_content",
               "reply_parameters", "reply_markup", "parse_mode")


# --- bot and updates -------------------------------------------------------------------------


@handles("getMe")
def get_me(call: Call) -> JSONDict:
    return {**call.state.bot.to_json(), "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False,
            "can_connect_to_business": False, "has_main_web_app": False}


@handles("logOut")
@handles("close")
def log_out(call: Call) -> bool:
    return True


@handles("getUpdates", "offset", "limit", "timeout", "allowed_updates")
def get_updates(call: Call) -> list[JSONDict]:
    state = call.state
    if state.webhook is not None:
        raise ApiError(409, state.spec.error("webhook-is-active").description)
    offset = call.int_param("offset") or 0
    limit = min(max(call.int_param("limit") or 100, 1), 100)
    timeout = max(call.int_param("timeout") or 0, 0)
    allowed = call.obj_param("allowed_updates")
    if isinstance(allowed, list):
        state.allowed_updates = frozenset(allowed) or None
    if offset > 0:
        state.updates = [u for u in state.updates if u["update_id"] >= offset]
    elif offset < 0:
        state.updates = state.updates[offset:]
    state.poll_generation += 1
    generation = state.poll_generation
    state.changed.notify_all()
    deadline = time.monotonic() + timeout
    while True:
        state.updates = [u for u in state.updates if state.is_allowed(u)]
        if state.updates or state.stopping:
            return copy.deepcopy(state.updates[:limit])
        if generation != state.poll_generation:
            raise state.spec.error("conflicted-terminated-by-other-long-poll")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return []
        state.changed.wait(remaining)


@handles("setWebhook", "url", "allowed_updates", "drop_pending_updates", "max_connections")
def set_webhook(call: Call) -> bool:
    url = call.str_param("url") or ""
    if not url.startswith("https://"):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    state = call.state
    if call.get("drop_pending_updates"):
        state.updates.clear()
    allowed = call.obj_param("allowed_updates")
    state.webhook = {"url": url, "max_connections": call.int_param("max_connections") or 40}
    if isinstance(allowed, list):
        state.webhook["allowed_updates"] = allowed
    state.poll_generation += 1  # a long poll in progress ends with 409
    state.changed.notify_all()
    return True


@handles("deleteWebhook", "drop_pending_updates")
def delete_webhook(call: Call) -> bool:
    if call.get("drop_pending_updates"):
        call.state.updates.clear()
    call.state.webhook = None
    return True


@handles("getWebhookInfo")
def get_webhook_info(call: Call) -> JSONDict:
    state = call.state
    info: JSONDict = {"url": "", "has_custom_certificate": False,
                      "pending_update_count": len(state.updates)}
    if state.webhook is not None:
        info.update(state.webhook)
    return info


# --- commands -----------------------------------------------------------------------------


def _commands_key(call: Call) -> tuple[str, str]:
    scope = call.obj_param("scope")
    if not isinstance(scope, dict) or scope.get("type", "default") == "default":
        scope_key = "default"
    else:
        scope_key = json.dumps(scope, sort_keys=True)
    return scope_key, call.str_param("language_code") or ""


@handles("setMyCommands", "commands", "scope", "language_code")
def set_my_commands(call: Call) -> bool:
    commands = call.obj_param("commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    cleaned: list[JSONDict] = []
    for item in commands:
        if not isinstance(item, dict) or not _COMMAND_NAME.match(str(item.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        cleaned.append({"command": item["command"], "description": str(item.get("description"))})
    call.state.commands[_commands_key(call)] = cleaned
    return True


@handles("getMyCommands", "scope", "language_code")
def get_my_commands(call: Call) -> list[JSONDict]:
    return list(call.state.commands.get(_commands_key(call), []))


@handles("deleteMyCommands", "scope", "language_code")
def delete_my_commands(call: Call) -> bool:
    call.state.commands.pop(_commands_key(call), None)
    return True


# --- messages ---------------------------------------------------------------------------------


@handles("sendMessage", *_SEND_READS, "text", "entities", "link_preview_options")
def send_message(call: Call) -> JSONDict:
    state = call.state
    chat = state.resolve_chat(call.get("chat_id"), sending=True)
    text, entities, parse_mode = render(call, "text", "entities", caption=False)
    markup = check_markup(call)
    message = new_message(call, chat.id, text=text, entities=entities, parse_mode=parse_mode,
                          raw_text=call.str_param("text"), reply_markup=markup)
    return state.message_json(message)


def _replace_content(state: EmulatorState, message: SentMessage, text: str | None,
                     entities: list[JSONDict], markup: JSONDict | None) -> None:
    if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
        raise state.spec.error("bad-request-message-not-modified")
    state.check_rate(state.chats[message.chat_id])
    now = state.now()
    message.history.append(MessageVersion(message.text, message.entities, message.reply_markup,
                                          message.raw_text, now))
    message.text, message.entities, message.reply_markup = text, entities, markup
    message.edit_date = now
    state.changed.notify_all()


@handles("editMessageText", "chat_id", "message_id", "inline_message_id", "text",
         "parse_mode", "entities", "link_preview_options", "reply_markup")
def edit_message_text(call: Call) -> JSONDict | bool:
    if call.get("inline_message_id") is not None:
        return True  # inline messages are not emulated
    message = find_message(call, "bad-request-message-to-edit-not-found")
    if not message.from_bot:
        raise call.state.spec.error("bad-request-message-cant-be-edited")
    if message.method != "sendMessage":
        raise bad_request("there is no text in the message to edit")
    text, entities, parse_mode = render(call, "text", "entities", caption=False)
    markup = check_markup(call)  # omitted: Telegram removes the inline keyboard
    _replace_content(call.state, message, text, entities, markup)
    message.raw_text, message.parse_mode = call.str_param("text"), parse_mode
    options = call.obj_param("link_preview_options")
    if isinstance(options, dict):
        message.link_preview_options = options
    return call.state.message_json(message)


@handles("editMessageReplyMarkup", "chat_id", "message_id", "inline_message_id",
         "reply_markup")
def edit_message_reply_markup(call: Call) -> JSONDict | bool:
    if call.get("inline_message_id") is not None:
        return True
    message = find_message(call, "bad-request-message-to-edit-not-found")
    if not message.from_bot:
        raise call.state.spec.error("bad-request-message-cant-be-edited")
    _replace_content(call.state, message, message.text, message.entities, check_markup(call))
    return call.state.message_json(message)


@handles("deleteMessage", "chat_id", "message_id")
def delete_message(call: Call) -> bool:
    message = find_message(call, "bad-request-message-to-delete-not-found")
    chat = call.state.chats[message.chat_id]
    if not message.from_bot and chat.type != "private" and not chat.bot_is_admin:
        raise call.state.spec.error("bad-request-message-cant-be-deleted")
    message.deleted = True
    call.state.changed.notify_all()
    return True


@handles("answerCallbackQuery", "callback_query_id", "text", "show_alert", "url",
         "cache_time")
def answer_callback_query(call: Call) -> bool:
    info = call.state.callbacks.get(call.str_param("callback_query_id") or "")
    if info is None or info.answer is not None:
        raise ApiError(400, QUERY_TOO_OLD)
    info.answer = {"text": call.str_param("text"), "show_alert": bool(call.get("show_alert")),
                   "url": call.str_param("url"), "cache_time": call.int_param("cache_time")}
    call.state.changed.notify_all()
    return True


# --- chats --------------------------------------------------------------------------------


@handles("getChat", "chat_id")
def get_chat(call: Call) -> JSONDict:
    state = call.state
    chat = state.resolve_chat(call.get("chat_id"), sending=False)
    info: JSONDict = synthesize(state.spec, "ChatFullInfo")
    info.update(chat.to_json())
    info["max_reaction_count"] = 11
    return info


@handles("getChatMember", "chat_id", "user_id")
def get_chat_member(call: Call) -> JSONDict:
    state = call.state
    chat = state.resolve_chat(call.get("chat_id"), sending=False)
    user_id = call.int_param("user_id")
    if user_id is None or user_id <= 0:
        raise bad_request("invalid user_id specified")
    user = state.bot if user_id == state.bot.id else state.user(user_id)
    return state.member_json(chat, user)


@handles("getChatAdministrators", "chat_id", "return_bots")
def get_chat_administrators(call: Call) -> list[JSONDict]:
    state = call.state
    chat = state.resolve_chat(call.get("chat_id"), sending=False)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    ids = ([chat.creator_id] if chat.creator_id is not None else []) + [
        user_id for user_id in chat.admin_ids if user_id != chat.creator_id]
    members = [state.member_json(chat, state.user(user_id)) for user_id in ids]
    if chat.bot_is_admin:
        members.append(state.member_json(chat, state.bot))
    return members


# --- everything else -----------------------------------------------------------------------


def generic(call: Call) -> Any:
    """Spec-only methods: chat checks, flood limits, then a spec-shaped result."""
    state = call.state
    returns = call.spec.returns
    chat = None
    if "chat_id" in call.spec.fields and call.get("chat_id") is not None:
        chat = state.resolve_chat(call.get("chat_id"),
                                  sending=is_rate_limited_method(call.spec.name))
    if chat is not None and "Message" in returns:
        caption_field = "caption" if "caption" in call.spec.fields else None
        text: str | None = None
        entities: list[JSONDict] = []
        parse_mode = None
        if caption_field is not None:
            text, entities, parse_mode = render(call, "caption", "caption_entities",
                                                caption=True)
        markup = check_markup(call) if "reply_markup" in call.spec.fields else None
        message = new_message(call, chat.id, text=text, entities=entities,
                              parse_mode=parse_mode, raw_text=call.str_param("caption")
                              if caption_field else None, reply_markup=markup)
        return state.message_json(message)
    if chat is not None and is_rate_limited_method(call.spec.name):
        state.check_rate(chat)
    if "Boolean" in returns:
        return True
    return synthesize(state.spec, returns[0])
