"""The eForm as an HTML form, rendered with jinja2 from the same definition that validates it."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from domain.definition import ProcedureDefinition

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


def render_form(
    definition: ProcedureDefinition, *, version: int, action: str = "/dossiers", values: dict[str, Any] | None = None
) -> str:
    fee = definition.fee
    fee_text = f"Lệ phí: {fee.amount_vnd:,} đồng" if fee.amount_vnd else (fee.description or "")
    return _environment.get_template("eform.html").render(
        definition=definition,
        version=version,
        action=action,
        values=values or {},
        fee_text=fee_text,
        components={c.id: c for c in definition.components},
        input_types=_INPUT_TYPES,
    )
