"""The Bot API spec and the real error bodies, as the emulator uses them.

Owns: loading `api.json` (Bot API spec: methods, fields, types, required flags) and the
`error-responses/*.json` corpus once; decoding request parameters the way the Bot API server
does (every form value is a string, converted by the declared field type; object fields are
JSON); the generic required-parameter check; spec-shaped placeholder results for methods
the emulator does not implement specially; and the fault/error value types.

The corpus is looked up in $TELEGRAM_SPEC_DIR, else ../shared/corpus/telegram-bot-api from the
project root.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

JSONDict = dict[str, Any]

_DEFAULT_SPEC_DIR = (
    Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "telegram-bot-api"
)


# --- errors and faults -----------------------------------------------------------------------


@dataclass
class ApiError(Exception):
    """A Telegram error envelope; raised by handlers, or injected with `fail_next`."""

    error_code: int
    description: str
    parameters: JSONDict | None = None

    def __str__(self) -> str:
        return f"{self.error_code} {self.description}"

    def envelope(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.error_code,
                          "description": self.description}
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


@dataclass(frozen=True)
class RawResponse:
    """A non-Bot-API answer, e.g. the HTML 502 page of Telegram's front proxy."""

    status: int
    body: bytes = b"<html><head><title>502 Bad Gateway</title></head></html>"
    content_type: str = "text/html"


@dataclass(frozen=True)
class Delay:
    """Hold the request `seconds`, then answer normally (the call takes effect, as when a
    client times out on a request Telegram did execute) or with `then`."""

    seconds: float
    then: ApiError | RawResponse | DropConnection | None = None


@dataclass(frozen=True)
class DropConnection:
    """Close the TCP connection without an answer; with `after_processing` the call takes
    effect first (the response is lost, the message is sent)."""

    after_processing: bool = False


Fault = ApiError | RawResponse | Delay | DropConnection


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after})


# --- the corpus --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fields: dict[str, FieldSpec]
    returns: tuple[str, ...]


@dataclass(frozen=True)
class TypeSpec:
    name: str
    fields: dict[str, FieldSpec]
    subtypes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiSpec:
    version: str
    methods: dict[str, MethodSpec]  # keyed by lower-case name: the Bot API ignores case
    types: dict[str, TypeSpec]
    errors: dict[str, ApiError] = field(default_factory=dict)  # by corpus file stem

    def method(self, name: str) -> MethodSpec | None:
        return self.methods.get(name.lower())

    def error(self, stem: str) -> ApiError:
        """A corpus error by file stem, e.g. "forbidden-bot-blocked-by-user"."""
        try:
            return self.errors[stem]
        except KeyError:
            raise KeyError(f"no corpus error {stem!r}; known: {sorted(self.errors)}") from None


def spec_dir() -> Path:
    return Path(os.environ.get("TELEGRAM_SPEC_DIR") or _DEFAULT_SPEC_DIR)


def _fields(raw: list[JSONDict]) -> dict[str, FieldSpec]:
    return {
        item["name"]: FieldSpec(item["name"], tuple(item["types"]), bool(item["required"]))
        for item in raw
    }


@cache
def load_spec(directory: Path | None = None) -> ApiSpec:
    """Load api.json and the error corpus (cached: the files are read once per process)."""
    root = directory or spec_dir()
    api_path = root / "api.json"
    if not api_path.is_file():
        raise FileNotFoundError(
            f"Bot API spec not found at {api_path}; set TELEGRAM_SPEC_DIR to the directory "
            "holding api.json and error-responses/"
        )
    raw = json.loads(api_path.read_text(encoding="utf-8"))
    methods = {
        name.lower(): MethodSpec(name, _fields(item.get("fields", [])), tuple(item["returns"]))
        for name, item in raw["methods"].items()
    }
    types = {
        name: TypeSpec(name, _fields(item.get("fields", [])), tuple(item.get("subtypes", [])))
        for name, item in raw["types"].items()
    }
    errors: dict[str, ApiError] = {}
    for path in sorted((root / "error-responses").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        errors[path.stem] = ApiError(
            int(body["error_code"]), str(body["description"]), body.get("parameters")
        )
    return ApiSpec(str(raw.get("version", "")), methods, types, errors)


# --- request parameters ------------------------------------------------------------------------

_MISSING_DESCRIPTIONS = {
    "chat_id": "Bad Request: chat_id is empty",
    "text": "Bad Request: message text is empty",
    "user_id": "Bad Request: invalid user_id specified",
    "message_id": "Bad Request: message identifier is not specified",
}


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str
    content_type: str
    size: int


def _coerce(value: Any, types: tuple[str, ...], files: dict[str, UploadedFile]) -> Any:
    """Convert one raw value to what the declared types say (form values are all strings)."""
    if not isinstance(value, str):
        if "String" in types and isinstance(value, int | float) and not isinstance(value, bool):
            return value if "Integer" in types else str(value)
        return value
    if "InputFile" in types and value.startswith("attach://"):
        return files.get(value.removeprefix("attach://"), value)
    if "Integer" in types:
        try:
            return int(value)
        except ValueError:
            return value  # "@channelusername" for chat_id, or a bad value the handler rejects
    if "Float" in types:
        try:
            return float(value)
        except ValueError:
            return value
    if "Boolean" in types or "True" in types:
        return value.strip().lower() in {"true", "1"}
    if "String" in types:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # left as text; a handler that needs the object will reject it


def coerce_params(
    method: MethodSpec, raw: JSONDict, files: dict[str, UploadedFile]
) -> JSONDict:
    """Decode the raw request parameters by the method's declared field types.

    Unknown parameter names are kept as given (Telegram ignores them)."""
    decoded: JSONDict = {}
    for name, value in raw.items():
        spec = method.fields.get(name)
        decoded[name] = value if spec is None else _coerce(value, spec.types, files)
    for name, upload in files.items():
        if name in method.fields and name not in decoded:
            decoded[name] = upload
    return decoded


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def check_required(method: MethodSpec, params: JSONDict) -> None:
    """Raise the 400 Telegram gives for the first absent required parameter."""
    for spec in method.fields.values():
        if spec.required and is_missing(params.get(spec.name)):
            raise ApiError(
                400,
                _MISSING_DESCRIPTIONS.get(
                    spec.name, f'Bad Request: parameter "{spec.name}" is required'
                ),
            )


# --- placeholder results -----------------------------------------------------------------------


def synthesize(spec: ApiSpec, type_name: str, depth: int = 0) -> Any:
    """A minimal value of a spec type: required fields only, zero values."""
    if type_name.startswith("Array of "):
        return []
    scalar = {"Integer": 0, "Float": 0.0, "String": "", "Boolean": True, "True": True}
    if type_name in scalar:
        return scalar[type_name]
    type_spec = spec.types.get(type_name)
    if type_spec is None or depth > 4:
        return {}
    if type_spec.subtypes and not type_spec.fields:
        return synthesize(spec, type_spec.subtypes[0], depth + 1)
    result: JSONDict = {}
    for item in type_spec.fields.values():
        if item.required:
            first = item.types[0]
            result[item.name] = (
                False if first == "Boolean" else synthesize(spec, first, depth + 1)
            )
    return result
