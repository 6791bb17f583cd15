"""From an HTML form post back to eForm values.

The page posts flat names (`address.ward_code`, `children.0.name`, a file or the descriptor of a file already
uploaded); the eForm validates nested values. Nothing is judged here: empty inputs are left out, text stays
text (the eForm's model converts "2" to 2 as it does for JSON), and `validate_form` says what is wrong, with
the same messages as the API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from domain.definition import FieldType, FormField, ProcedureDefinition
from forms.render import DESCRIPTOR_SUFFIX

ADDRESS_PARTS = ("province_code", "ward_code", "detail")


class PostedFile(Protocol):
    filename: str | None


class Posted(Protocol):
    """A multi-valued form post (Starlette's FormData)."""

    def getlist(self, key: str) -> list[Any]: ...

    def keys(self) -> Any: ...


# Keeps an uploaded file and returns its descriptor, or raises ValueError with the reason it is refused.
KeepFile = Callable[[PostedFile], Awaitable[dict[str, Any]]]


def _text(posted: Posted, name: str) -> str | None:
    for value in posted.getlist(name):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _file(posted: Posted, name: str) -> PostedFile | None:
    for value in posted.getlist(name):
        if not isinstance(value, str) and getattr(value, "filename", None):
            return value
    return None


def _descriptor(posted: Posted, name: str) -> dict[str, Any] | None:
    raw = _text(posted, name + DESCRIPTOR_SUFFIX)
    if not raw or len(raw) > 2000:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _indices(posted: Posted, path: str) -> list[int]:
    pattern = re.compile(re.escape(path) + r"\.(\d{1,3})\.")
    return sorted({int(m.group(1)) for key in posted.keys() if (m := pattern.match(key))})


async def form_values(
    definition: ProcedureDefinition, posted: Posted, keep_file: KeepFile
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The eForm values of a post, and the messages of files that could not be kept (by field path)."""
    problems: dict[str, list[str]] = {}
    values = await _fields(list(definition.form.fields), "", posted, keep_file, problems)
    return values, problems


async def _fields(
    fields: list[FormField], prefix: str, posted: Posted, keep_file: KeepFile, problems: dict[str, list[str]]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in fields:
        value = await _field(field, prefix + field.name, posted, keep_file, problems)
        if value is not None and value != [] and value != {}:
            values[field.name] = value
    return values


async def _field(
    field: FormField, path: str, posted: Posted, keep_file: KeepFile, problems: dict[str, list[str]]
) -> Any:
    match field.type:
        case FieldType.group:
            items = []
            for index in _indices(posted, path):
                item = await _fields(field.fields or [], f"{path}.{index}.", posted, keep_file, problems)
                if item:
                    items.append(item)
            return items
        case FieldType.address:
            return {part: text for part in ADDRESS_PARTS if (text := _text(posted, f"{path}.{part}")) is not None}
        case FieldType.multi_choice:
            return [v.strip() for v in posted.getlist(path) if isinstance(v, str) and v.strip()]
        case FieldType.boolean:
            # An unticked box sends nothing: "no" for a field that must be answered, absent otherwise.
            if _text(posted, path) is not None:
                return _text(posted, path) in ("true", "on", "1")
            return False if field.required and not field.visible_when else None
        case FieldType.attachment:
            upload = _file(posted, path)
            if upload is not None:
                try:
                    return await keep_file(upload)
                except ValueError as refused:
                    problems[path] = [str(refused)]
                    return None
            return _descriptor(posted, path)
        case _:
            return _text(posted, path)
