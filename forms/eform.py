"""eForms: from a definition's field list to a pydantic model that validates submissions.

The generated model is the one place where form rules live; the JSON Schema published for
clients is derived from it, so the API, the schema and (later) the HTML form cannot disagree.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, create_model

from domain.definition import EForm, FieldType, FormField

CITIZEN_ID_PATTERN = r"^\d{12}$"
PHONE_PATTERN = r"^(0|\+84)\d{9,10}$"


class FormInvalid(Exception):
    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class _FormBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _annotation(field: FormField, model_name: str) -> Any:
    constraints: dict[str, Any] = {"title": field.label}
    match field.type:
        case FieldType.text:
            base: Any = str
            constraints.update(
                min_length=field.min_length if field.min_length is not None else (1 if field.required else None),
                max_length=field.max_length or 2000,
                pattern=field.pattern,
            )
        case FieldType.number:
            base = int if field.integer else float
            constraints.update(ge=field.minimum, le=field.maximum, allow_inf_nan=False)
        case FieldType.money:
            base = int
            constraints.update(ge=field.minimum if field.minimum is not None else 0, le=field.maximum)
        case FieldType.date:
            base = date
        case FieldType.choice:
            base = Literal[tuple(field.options or ())]  # type: ignore[misc]
        case FieldType.multi_choice:
            base = list[Literal[tuple(field.options or ())]]  # type: ignore[misc]
            constraints.update(min_length=field.min_items, max_length=field.max_items)
        case FieldType.boolean:
            base = bool
        case FieldType.citizen_id:
            base = str
            constraints.update(pattern=CITIZEN_ID_PATTERN)
        case FieldType.phone:
            base = str
            constraints.update(pattern=PHONE_PATTERN)
        case FieldType.email:
            base = EmailStr
        case FieldType.group:
            item = _model(tuple(field.fields or ()), f"{model_name}_{field.name}")
            base = list[item]  # type: ignore[valid-type]
            constraints.update(
                min_length=field.min_items if field.min_items is not None else (1 if field.required else None),
                max_length=field.max_items or 200,
            )
    return Annotated[base, Field(**{k: v for k, v in constraints.items() if v is not None})]


def _model(fields: tuple[FormField, ...], name: str) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for field in fields:
        annotation = _annotation(field, name)
        if field.required:
            definitions[field.name] = (annotation, ...)
        else:
            definitions[field.name] = (annotation | None, None)
    return create_model(name, __base__=_FormBase, **definitions)


_models: dict[str, type[BaseModel]] = {}


def form_model(form: EForm) -> type[BaseModel]:
    """The validation model of an eForm, cached by content (deployed definitions are immutable)."""
    key = form.model_dump_json()
    model = _models.get(key)
    if model is None:
        if len(_models) > 512:
            _models.clear()
        model = _models[key] = _model(tuple(form.fields), "EForm")
    return model


def validate_form(form: EForm, data: Any, *, loc_prefix: tuple[str | int, ...] = ("body", "form")) -> dict[str, Any]:
    """Validate eForm data; return it normalised (JSON-ready) or raise FormInvalid with field paths."""
    try:
        validated = form_model(form).model_validate(data)
    except ValidationError as exc:
        raise FormInvalid(
            [
                {"loc": [*loc_prefix, *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in exc.errors(include_url=False, include_context=False)
            ]
        ) from None
    return validated.model_dump(mode="json", exclude_none=True)


def form_json_schema(form: EForm) -> dict[str, Any]:
    return form_model(form).model_json_schema()
