"""What a form field's problem says to the person filling it in: pydantic's error types (the API's `type`, with its
`ctx`) in plain Vietnamese, translated where read; a type not listed keeps the API's own message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.wording import Said, mark
from forms.eform import CITIZEN_ID_PATTERN, PHONE_PATTERN

REQUIRED = mark("Mục này là bắt buộc.")
BY_TYPE = {
    "missing": REQUIRED,
    "string_too_short": mark("Cần ít nhất {min_length} ký tự."),
    "string_too_long": mark("Không được quá {max_length} ký tự."),
    "too_short": mark("Cần ít nhất {min_length} mục."),
    "too_long": mark("Không được quá {max_length} mục."),
    "greater_than_equal": mark("Phải từ {ge} trở lên."),
    "greater_than": mark("Phải lớn hơn {gt}."),
    "less_than_equal": mark("Không được quá {le}."),
    "less_than": mark("Phải nhỏ hơn {lt}."),
    "int_parsing": mark("Hãy nhập một số nguyên."),
    "int_type": mark("Hãy nhập một số nguyên."),
    "int_from_float": mark("Hãy nhập một số nguyên."),
    "float_parsing": mark("Hãy nhập một số."),
    "float_type": mark("Hãy nhập một số."),
    "decimal_parsing": mark("Hãy nhập một số."),
    "date_parsing": mark("Hãy nhập một ngày hợp lệ."),
    "date_from_datetime_parsing": mark("Hãy nhập một ngày hợp lệ."),
    "date_type": mark("Hãy nhập một ngày hợp lệ."),
    "literal_error": mark("Hãy chọn một trong các mục có sẵn."),
    "enum": mark("Hãy chọn một trong các mục có sẵn."),
    "bool_parsing": mark("Hãy chọn có hoặc không."),
    "string_type": mark("Hãy nhập chữ."),
}
BY_PATTERN = {
    CITIZEN_ID_PATTERN: mark("Số định danh cá nhân gồm 12 chữ số."),
    PHONE_PATTERN: mark("Số điện thoại không hợp lệ."),
    r"^\d{2}$": mark("Cần 2 chữ số."),
    r"^\d{5}$": mark("Cần 5 chữ số."),
}
WRONG_FORM = mark("Không đúng định dạng.")
NOT_AN_EMAIL = mark("Địa chỉ thư điện tử không hợp lệ.")


def field_message(error: Mapping[str, Any]) -> str:
    """The error's message for a person: a Said (Vietnamese, and its template for other languages) where its type is
    known, else the API's own message."""
    kind = str(error.get("type") or "")
    ctx = {key: str(value) for key, value in (error.get("ctx") or {}).items()}
    if kind == "string_pattern_mismatch":
        return Said(BY_PATTERN.get(ctx.get("pattern", ""), WRONG_FORM))
    if kind == "value_error" and "email" in str(error.get("msg", "")).lower():
        return Said(NOT_AN_EMAIL)
    template = BY_TYPE.get(kind)
    if template is None:
        return str(error.get("msg", ""))
    try:
        return Said(template, **ctx)
    except (KeyError, IndexError):  # a bound the error does not name: the API's own message says it
        return str(error.get("msg", ""))
