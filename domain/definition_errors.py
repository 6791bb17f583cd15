"""A definition's errors as an editor shows them: every one at once (shape errors and whole-definition checks
together), each with its words in Vietnamese (translated where read: `text` and `values`), the line and column it
points at in the administrator's text, and a "did you mean …?" for a near miss (a misspelt key, step, field or value).

Shape errors (pydantic's) hide nothing: the document is repaired where they are (an unknown key dropped, a bad
optional value dropped, a bad required value replaced by a stand-in) and the whole-definition checks run on the
rest, leaving out what concerns the repaired parts."""

from __future__ import annotations

import copy
import difflib
import enum
import re
import typing
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from domain import expressions
from domain.definition import DefinitionError, ProcedureDefinition
from domain.wording import mark

Loc = list[str | int]
_REPAIR_ROUNDS = 4
_STAND_INS: tuple[Any, ...] = ("x", "x x", "1.000001", "A", "a/b", 0, 1, 0.8, True, [], {})

# Pydantic's error types in the administrator's words; other types keep pydantic's own message.
SHAPE_TEXTS = {
    "missing": mark("thiếu khóa bắt buộc '{key}'"),
    "extra_forbidden": mark("khóa '{key}' không có trong ngôn ngữ định nghĩa"),
    "enum": mark("không nhận giá trị '{input}'; chọn một trong: {expected}"),
    "literal_error": mark("không nhận giá trị '{input}'; chọn một trong: {expected}"),
    "string_pattern_mismatch": mark("'{input}' không đúng dạng {pattern}"),
    "string_too_short": mark("cần ít nhất {min_length} ký tự"),
    "string_too_long": mark("dài quá {max_length} ký tự"),
    "too_short": mark("cần ít nhất {min_length} mục"),
    "too_long": mark("nhiều quá {max_length} mục"),
    "greater_than_equal": mark("phải từ {ge} trở lên"),
    "greater_than": mark("phải lớn hơn {gt}"),
    "less_than_equal": mark("phải không quá {le}"),
    "int_parsing": mark("cần một số nguyên"),
    "int_type": mark("cần một số nguyên"),
    "int_from_float": mark("cần một số nguyên"),
    "float_parsing": mark("cần một số"),
    "float_type": mark("cần một số"),
    "bool_parsing": mark("cần true hoặc false"),
    "bool_type": mark("cần true hoặc false"),
    "string_type": mark("cần một chuỗi văn bản"),
    "list_type": mark("cần một danh sách"),
    "dict_type": mark("cần các cặp khóa: giá trị"),
    "model_type": mark("cần các cặp khóa: giá trị"),
    "model_attributes_type": mark("cần các cặp khóa: giá trị"),
}
DID_YOU_MEAN = mark("Có phải ý bạn là '{suggestion}'?")


class Problem(DefinitionError):
    """One error: `msg` as the checks said it, `text` and `values` to say it in the reader's language, where it
    points (1-based line and column of the text, when known) and a near miss among the names it could have meant."""

    text: str = "{msg}"
    values: dict[str, str] = {}
    shape: bool = False  # pydantic's (its msg is pydantic's English) rather than a whole-definition check
    suggestion: str | None = None
    offset: int | None = None  # inside an expression: the 1-based column the expression parser gave
    line: int | None = None
    column: int | None = None

    def said(self, translate: Callable[..., str]) -> str:
        """The message in the words `translate` gives (Vietnamese template, values), with its "did you mean"."""
        values = {**self.values, "msg": self.msg}
        said = translate(self.text, **values) if self.text != "{msg}" else self.msg
        return said + (" " + translate(DID_YOU_MEAN, suggestion=self.suggestion) if self.suggestion else "")


def problem(loc: Loc, text: str, kind: str, /, *, suggestion: str | None = None, offset: int | None = None,
            **values: object) -> Problem:  # fmt: skip
    shown = {k: str(v) for k, v in values.items()}
    return Problem(loc=loc, msg=text.format(**shown), type=kind, text=text, values=shown, suggestion=suggestion,
                   offset=offset)  # fmt: skip


def closest(word: object, candidates: Iterable[str]) -> str | None:
    if not isinstance(word, str) or not word:
        return None
    found = difflib.get_close_matches(word, sorted(set(candidates) - {word}), n=1, cutoff=0.6)
    return found[0] if found else None


# ----------------------------------------------------------------------------------------- shape errors


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_of(argument)
        if found is not None:
            return found
    return None


def _field_at(loc: Sequence[str | int]) -> tuple[type[BaseModel] | None, Any]:
    """The model that holds the last part of `loc`, and that part's FieldInfo (None when it names no field)."""
    model: type[BaseModel] | None = ProcedureDefinition
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return model, None
        holder, info = model, model.model_fields[part]
        model = _model_of(info.annotation)
    return (holder if loc else None), info


def _shape_problem(error: dict[str, Any]) -> Problem:
    loc = list(error["loc"])
    kind = error["type"]
    ctx = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
    given = error.get("input")
    shown_input = given if isinstance(given, str | int | float) else ""
    values = {"key": str(loc[-1]) if loc else "", "input": str(shown_input)[:60], **ctx}
    suggestion = None
    if kind == "extra_forbidden" and loc:
        holder, _ = _field_at([*loc[:-1], "?"])
        if holder is not None:
            suggestion = closest(loc[-1], holder.model_fields)
    elif kind in ("enum", "literal_error"):
        suggestion = closest(given, re.findall(r"'([^']*)'", ctx.get("expected", "")))
    text = SHAPE_TEXTS.get(kind, "{msg}")
    return Problem(loc=loc, msg=error["msg"], type=kind, text=text, values=values, shape=True, suggestion=suggestion)


def _container(data: Any, loc: Sequence[str | int]) -> tuple[Any, str | int] | None:
    """The dict or list holding the last part of `loc`, and that part (None when the data lacks the path)."""
    current = data
    for part in loc[:-1]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            return None
    return (current, loc[-1]) if loc and isinstance(current, dict | list) else None


def _choices(annotation: Any) -> list[Any]:
    """The first value of each enumeration or literal an annotation names: stand-ins that fit it."""
    found: list[Any] = []
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        found.append(next(iter(annotation)).value)
    if typing.get_origin(annotation) is typing.Literal:
        found.extend(typing.get_args(annotation)[:1])
    for argument in typing.get_args(annotation):
        found.extend(_choices(argument))
    return found


def _stand_in(info: Any) -> Any:
    annotation = typing.Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    adapter = TypeAdapter(annotation)
    for candidate in [*_choices(info.annotation), *_STAND_INS]:
        try:
            return adapter.validate_python(candidate)
        except (ValidationError, TypeError, ValueError):
            continue
    raise LookupError


def _repair(data: Any, problem_: Problem, touched: list[tuple[Loc, bool]]) -> bool:
    """Mend the data where a shape error is; False when it cannot be mended (a whole item of the wrong kind)."""
    place = _container(data, problem_.loc)
    holder, info = _field_at(problem_.loc)
    if place is None or not isinstance(place[0], dict) or holder is None:
        return False
    container, key = place
    if problem_.type == "extra_forbidden" or (info is not None and not info.is_required()):
        container.pop(key, None)
        touched.append((problem_.loc, False))
        return True
    if info is None:
        return False
    try:
        container[key] = _stand_in(info)
    except LookupError:
        return False
    touched.append((problem_.loc, True))
    return True


def _concerns(error: DefinitionError, touched: list[tuple[Loc, bool]]) -> bool:
    for loc, stood_in in touched:
        scope = loc[:-1] if stood_in else loc  # a stand-in's whole object is suspect; a dropped key only itself
        if error.loc[: len(scope)] == scope:
            return True
    return False


def every_problem(
    raw: Any, check: Callable[[ProcedureDefinition], list[DefinitionError]]
) -> tuple[ProcedureDefinition | None, list[Problem]]:
    """The definition (None when it has shape errors) and every problem, shape errors first."""
    try:
        definition = ProcedureDefinition.model_validate(raw)
    except ValidationError as exc:
        shape = [_shape_problem(e) for e in exc.errors(include_url=False)]
    else:
        return definition, [_as_problem(e) for e in check(definition)]
    data, touched = copy.deepcopy(raw), []
    pending = shape
    for _ in range(_REPAIR_ROUNDS):
        if not isinstance(data, dict) or not all(_repair(data, p, touched) for p in pending):
            return None, shape
        try:
            repaired = ProcedureDefinition.model_validate(data)
        except ValidationError as exc:
            pending = [_shape_problem(e) for e in exc.errors(include_url=False)]
            continue
        try:
            rest = [_as_problem(e) for e in check(repaired) if not _concerns(e, touched)]
        except (LookupError, ValueError, TypeError):  # stand-ins the checks did not expect: the shape errors alone
            return None, shape
        return None, shape + rest
    return None, shape


def _as_problem(error: DefinitionError) -> Problem:
    return error if isinstance(error, Problem) else Problem(loc=error.loc, msg=error.msg, type=error.type)


def expression_column(message: str, text: str) -> int | None:
    """The 1-based column inside `text` of what an expression error names: the parser's column of a syntax error
    (counted in the stripped text), or where an unknown name is read."""
    found = re.search(r"at column (\d+)", message)
    if found is None:
        return None
    stripped = text.strip()
    at = int(found.group(1))  # 0: the expression ended too soon; point at its end
    return len(text) - len(text.lstrip()) + (at if 0 < at <= len(stripped) else max(len(stripped), 1))


def name_column(text: str, names: Collection[str]) -> int | None:
    spots = [m.start() + 1 for name in names for m in [re.search(rf"(?<![\w.]){re.escape(name)}\b", text)] if m]
    return min(spots) if spots else None


_READS = {
    "form": mark("biểu thức đọc {names}, mà tờ khai không có"),
    "earlier": mark("biểu thức đọc {names}, mà tờ khai và các bước trước không có"),
    "time_limit": mark("biểu thức đọc {names}, mà tờ khai không có (ngoài tên branches: các nhánh được chọn)"),
}


def check_expression(
    errors: list[DefinitionError], loc: Loc, text: str | None, known: Iterable[str], what: str = "earlier"
) -> None:
    if text is None:
        return
    try:
        parsed = expressions.parse(text)
    except expressions.ExpressionError as exc:
        at = expression_column(str(exc), text)  # the line and column say where; the words need not
        said = re.sub(r" at column \d+", "", str(exc))
        errors.append(problem(loc, mark("biểu thức không hợp lệ: {problem}"), "expression", offset=at, problem=said))
        return
    unknown = sorted(parsed.names - set(known))
    if unknown:
        guess = next((g for g in (closest(name, known) for name in unknown) if g), None)
        errors.append(problem(loc, _READS[what], "unknown_name", suggestion=guess,
                              offset=name_column(text, unknown), names=", ".join(unknown)))  # fmt: skip


__all__ = ["Problem", "check_expression", "closest", "every_problem", "expression_column", "name_column", "problem"]
