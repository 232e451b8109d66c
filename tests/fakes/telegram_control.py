"""The emulator's HTTP control endpoint: `/_control/<action>` with JSON keyword arguments.

Owns translating JSON into control-API calls (including faults and rate limits given as
objects) and results back into JSON, for tests and benchmarks that run the emulator in
another process (`python -m tests.fakes.telegram_api --port N`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from tests.fakes.telegram_spec import (
    ApiError,
    Delay,
    DropConnection,
    Fault,
    JSONDict,
    RawResponse,
)
from tests.fakes.telegram_state import RateLimits

if TYPE_CHECKING:
    from tests.fakes.telegram_api import TelegramEmulator


def control_action(emulator: TelegramEmulator, action: str, arguments: JSONDict) -> Any:
    """Run one `/_control/<action>` request: a control method with JSON keyword arguments."""
    if action == "fail_next":
        arguments = {**arguments, "error": fault_from_json(arguments.get("error"))}
    elif action == "set_rate_limits":
        limits = arguments.get("limits")
        arguments = {"limits": RateLimits(**limits) if isinstance(limits, dict) else None}
    allowed = {"add_chat", "user_sends", "user_presses", "set_chat_admins", "block",
               "unblock", "kick", "migrate", "fail_next", "set_rate_limits", "messages",
               "wait_for_messages", "calls", "commands", "callback_answer",
               "pending_updates", "internal_errors", "message_json"}
    if action == "info":
        return {"api_root": emulator.api_root, "token": emulator.token, "bot_id": emulator.bot_id,
                "bot_username": emulator.bot_username,
                "rate_limited_count": emulator.rate_limited_count}
    if action not in allowed:
        raise LookupError(f"unknown control action {action!r}; known: {sorted(allowed)}")
    result = getattr(emulator, action)(**arguments)
    if isinstance(result, list):
        return [_plain(r) for r in result]
    return result


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def fault_from_json(spec: Any) -> Fault | str:
    """Decode a fault given over the control endpoint: a corpus stem, {"error_code",
    "description", "parameters"}, {"status", "body"}, {"delay", "then"} or {"drop"}."""
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, dict):
        raise ValueError("error must be a corpus stem or an object")
    if "delay" in spec:
        then = fault_from_json(spec["then"]) if spec.get("then") is not None else None
        if isinstance(then, str | Delay):
            raise ValueError("delay.then must be an error object, a raw response or a drop")
        return Delay(float(spec["delay"]), then)
    if spec.get("drop"):
        return DropConnection(bool(spec.get("after_processing")))
    if "status" in spec:
        return RawResponse(int(spec["status"]), str(spec.get("body", "")).encode(),
                           str(spec.get("content_type", "text/html")))
    return ApiError(int(spec["error_code"]), str(spec["description"]), spec.get("parameters"))
