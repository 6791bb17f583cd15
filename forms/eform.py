"""eForms: from a definition's fields to the pydantic model that validates submissions.

The generated model is the one place where field rules live; the JSON Schema for clients and the
HTML form are derived from the same definition, so they cannot disagree. Conditional rules
(`visible_when`, `required_when`) are checked after the model, with the expression language.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, create_model, model_validator

from domain import expressions
from domain.definition import DossierComponent, FieldType, FormField, ProcedureDefinition

CITIZEN_ID_PATTERN = r"^\d{12}$"
PHONE_PATTERN = r"^(0|\+84)\d{9,10}$"
DEFAULT_COMPONENT = DossierComponent(id="attachment", name="Attachment")


class FormInvalid(Exception):
    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class _FormBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Address(_FormBase):
    """An address in the two-level administration: province and commune/ward codes, then the detail."""

    province_code: Annotated[str, Field(pattern=r"^\d{2}$")]
    ward_code: Annotated[str, Field(pattern=r"^\d{5}$")]
    detail: Annotated[str, Field(min_length=1, max_length=300)]


class Attachment(_FormBase):
    """An uploaded file, described by the upload service (name, media type, size, content hash)."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    media_type: Annotated[str, Field(min_length=3, max_length=100)]
    size_bytes: Annotated[int, Field(ge=1)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    reference: Annotated[str, Field(max_length=300)] | None = None
    # The claim the upload answered: proves the submitter uploaded the file (checked at intake, never stored).
    claim: Annotated[str, Field(max_length=100)] | None = None


def _attachment_model(component: DossierComponent) -> type[Attachment]:
    accepted = tuple(component.accepted_types)
    limit = int(component.max_size_mb * 1024 * 1024)

    def within_rules(self: Attachment) -> Attachment:
        if self.media_type not in accepted:
            raise ValueError(f"{component.name}: {self.media_type} is not accepted ({', '.join(accepted)})")
        if self.size_bytes > limit:
            raise ValueError(f"{component.name}: larger than {component.max_size_mb:g} MB")
        return self

    return create_model(  # type: ignore[call-overload, no-any-return]
        f"Attachment_{component.id}",
        __base__=Attachment,
        __validators__={"within_rules": model_validator(mode="after")(within_rules)},
    )


def _annotation(field: FormField, model_name: str, components: dict[str, DossierComponent]) -> Any:
    constraints: dict[str, Any] = {"title": field.label, "description": field.help}
    match field.type:
        case FieldType.text:
            base: Any = str
            constraints.update(
                min_length=field.min_length if field.min_length is not None else 1,
                max_length=field.max_length or 2000,
                pattern=field.pattern,
            )
        case FieldType.number:
            base = int if field.integer else float
            constraints.update(ge=field.minimum, le=field.maximum)
            if not field.integer:
                constraints["allow_inf_nan"] = False
        case FieldType.money:
            base = int
            constraints.update(ge=field.minimum if field.minimum is not None else 0, le=field.maximum)
        case FieldType.date:
            base = date
        case FieldType.choice:
            base = Literal[tuple(field.options or ())]  # type: ignore[misc]
        case FieldType.multi_choice:
            base = list[Literal[tuple(field.options or ())]]  # type: ignore[misc]
            constraints.update(min_length=field.min_items, max_length=field.max_items or len(field.options or ()))
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
        case FieldType.address:
            base = Address
        case FieldType.attachment:
            base = _attachment_model(components.get(field.component or "", DEFAULT_COMPONENT))
        case FieldType.group:
            item = _model(field.fields or [], f"{model_name}_{field.name}", components)
            base = list[item]  # type: ignore[valid-type]
            constraints.update(
                min_length=field.min_items if field.min_items is not None else (1 if field.required else None),
                max_length=field.max_items or 200,
            )
    return Annotated[base, Field(**{k: v for k, v in constraints.items() if v is not None})]


def _model(fields: list[FormField], name: str, components: dict[str, DossierComponent]) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for field in fields:
        annotation = _annotation(field, name, components)
        definitions[field.name] = (annotation, ...) if field.required else (annotation | None, None)
    return create_model(name, __base__=_FormBase, **definitions)  # type: ignore[call-overload, no-any-return]


_models: dict[str, type[BaseModel]] = {}


def form_model(definition: ProcedureDefinition) -> type[BaseModel]:
    """The validation model of a definition's eForm, cached by content (deployed versions are immutable)."""
    key = definition.form.model_dump_json() + "|" + "".join(c.model_dump_json() for c in definition.components)
    model = _models.get(key)
    if model is None:
        if len(_models) > 512:
            _models.clear()
        components = {c.id: c for c in definition.components}
        model = _models[key] = _model(list(definition.form.fields), "EForm", components)
    return model


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _conditional_errors(
    fields: list[FormField], values: dict[str, Any], scope: dict[str, Any], loc: list
) -> list[dict]:
    errors: list[dict[str, Any]] = []
    for field in fields:
        value = values.get(field.name)
        if field.visible_when and not expressions.parse(field.visible_when).holds(scope) and not _empty(value):
            errors.append(
                {
                    "loc": [*loc, field.name],
                    "msg": f"not applicable unless {field.visible_when}",
                    "type": "not_applicable",
                }
            )
        elif field.required_when and expressions.parse(field.required_when).holds(scope) and _empty(value):
            errors.append({"loc": [*loc, field.name], "msg": f"required when {field.required_when}", "type": "missing"})
        if field.type == FieldType.group and field.fields and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    errors += _conditional_errors(field.fields, item, {**scope, **item}, [*loc, field.name, i])
    return errors


def _plain_context(error: Any) -> dict[str, Any]:
    """The error's context (the bound or pattern it broke) where it is plain values, for saying it in words."""
    ctx = {
        k: v
        for k, v in (error.get("ctx") or {}).items()
        if isinstance(v, str | int | float) and not isinstance(v, bool)
    }
    return {"ctx": ctx} if ctx else {}


def validate_form(
    definition: ProcedureDefinition, data: Any, *, loc_prefix: tuple[str | int, ...] = ("body", "form")
) -> dict[str, Any]:
    """Validate eForm data; return it normalised (JSON-ready) or raise FormInvalid listing every bad field."""
    try:
        validated = form_model(definition).model_validate(data)
    except ValidationError as exc:
        errors = [
            {"loc": [*loc_prefix, *err["loc"]], "msg": err["msg"], "type": err["type"], **_plain_context(err)}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        # Report the conditional rules too, read on the raw values, so one answer lists every problem.
        if isinstance(data, dict):
            seen = {tuple(e["loc"]) for e in errors}
            conditional = _conditional_errors(list(definition.form.fields), data, data, list(loc_prefix))
            errors += [e for e in conditional if tuple(e["loc"]) not in seen]
        raise FormInvalid(errors) from None
    values = validated.model_dump(mode="json", exclude_none=True)
    errors = _conditional_errors(list(definition.form.fields), values, values, list(loc_prefix))
    if errors:
        raise FormInvalid(errors)
    return values


def form_json_schema(definition: ProcedureDefinition) -> dict[str, Any]:
    return form_model(definition).model_json_schema()
