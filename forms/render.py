"""The eForm as an HTML form, rendered with jinja2 from the same definition that validates it.

`render_form` gives the whole form (GET /procedures/{code}/form.html); `render_fields` gives only the fields,
for pages that wrap them in a form of their own, with the values entered so far, the messages of
`validate_form` next to the fields they concern, and the fields filled from national databases marked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from domain.definition import FieldType, FormField, ProcedureDefinition
from domain.wording import mark
from infrastructure.translations import DEFAULT_LANGUAGE, number

_environment = Environment(
    loader=PackageLoader("forms", "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True
)
_INPUT_TYPES = {
    "number": "number",
    "money": "number",
    "date": "date",
    "phone": "tel",
    "email": "email",
    "citizen_id": "text",
}
# Beside a file input: the descriptor of the file already uploaded for that field (JSON), so a page that
# shows its messages again does not lose it, and a browser that uploads with a progress bar sends it.
DESCRIPTOR_SUFFIX = "__descriptor"
TEXTS = {
    "required": mark("bắt buộc"),
    "submit": mark("Nộp hồ sơ"),
    "province_code": mark("Mã tỉnh/thành phố"),
    "ward_code": mark("Mã xã/phường"),
    "province": mark("Tỉnh/thành phố"),
    "ward": mark("Xã/phường"),
    "detail": mark("Số nhà, đường"),
    "prefill_source": mark("(điền sẵn từ CSDL quốc gia về dân cư)"),
    "prefilled": mark("Đã điền sẵn từ Cơ sở dữ liệu quốc gia về dân cư"),
    "uploaded": mark("Đã tải lên"),
    "upload_progress": mark("Tiến độ tải lên"),
    "add_item": mark("Thêm mục"),
    "item": mark("Mục"),
    "choose": mark("— Chọn —"),
    "working_days": mark("ngày làm việc"),
    "fee": mark("Lệ phí: {amount} đồng"),
}


@dataclass(frozen=True)
class AreaChoices:
    """The provinces and their communes/wards an address picks from, by name (values: their area codes)."""

    provinces: list[tuple[str, str]]  # (area code, name)
    wards: dict[str, list[tuple[str, str]]]  # province area code → (area code, name)


@dataclass
class FormState:
    """What a page shows in the form: values entered (nested, as the eForm validates them), messages by
    field path (`address.ward_code`, `children.0.name`), fields filled from national databases, and
    how many items each repeating group shows."""

    values: Mapping[str, Any] = field(default_factory=dict)
    errors: Mapping[str, list[str]] = field(default_factory=dict)
    prefilled: frozenset[str] = frozenset()
    group_items: Mapping[str, int] = field(default_factory=dict)


def value_at(values: Any, path: str) -> Any:
    """The value at a dotted path of nested form values (None when absent)."""
    current = values
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def _items(state: FormState, path: str, group: FormField) -> int:
    present = value_at(state.values, path)
    count = max(len(present) if isinstance(present, list) else 0, group.min_items or 0, 1)
    return min(max(count, state.group_items.get(path, 0)), group.max_items or 200)


def _context(
    definition: ProcedureDefinition,
    state: FormState,
    texts: Mapping[str, str] | None,
    areas: AreaChoices | None = None,
) -> dict[str, Any]:
    merged = {**TEXTS, "language": DEFAULT_LANGUAGE, **(texts or {})}
    fee = definition.fee
    amount = number(fee.amount_vnd, merged["language"]) if fee.amount_vnd else ""
    fee_text = merged["fee"].format(amount=amount) if fee.amount_vnd else (fee.description or "")
    return {
        "definition": definition,
        "values": state.values,
        "errors": state.errors,
        "prefilled": state.prefilled,
        "value_of": lambda path: value_at(state.values, path),
        "items_of": lambda path, group: _items(state, path, group),
        "texts": merged,
        "fee_text": fee_text,
        "components": {c.id: c for c in definition.components},
        "input_types": _INPUT_TYPES,
        "descriptor_suffix": DESCRIPTOR_SUFFIX,
        "has_attachments": has_attachments(definition),
        "areas": areas if areas is not None and areas.provinces else None,
    }


def has_attachments(definition: ProcedureDefinition) -> bool:
    return any(f.type == FieldType.attachment for _, f in definition.form.walk())


def fee_text(definition: ProcedureDefinition, texts: Mapping[str, str] | None = None) -> str:
    return str(_context(definition, FormState(), texts)["fee_text"])


def render_form(
    definition: ProcedureDefinition,
    *,
    version: int,
    action: str = "/dossiers",
    values: dict[str, Any] | None = None,
    texts: Mapping[str, str] | None = None,
) -> str:
    context = _context(definition, FormState(values=values or {}), texts)
    return _environment.get_template("eform.html").render(**context, version=version, action=action, show_actions=False)


def render_fields(
    definition: ProcedureDefinition,
    *,
    state: FormState | None = None,
    texts: Mapping[str, str] | None = None,
    group_actions: bool = True,
    areas: AreaChoices | None = None,
) -> Markup:
    """Only the fields, for a page's own form; with group actions, a button under each repeating group
    posts `action=add:<group path>` to show one more item. With `areas`, addresses pick their province and
    commune/ward by name."""
    context = _context(definition, state or FormState(), texts, areas)
    return Markup(_environment.get_template("eform_only_fields.html").render(**context, show_actions=group_actions))
