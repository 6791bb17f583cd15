"""The eForm page, shared by the citizen's online submission and the counter's reception: the definition's
fields with the applicant's, values read back from the post, files kept, data reused from national
databases, and the submission sent down the one path of every channel (`receive_dossier`)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlmodel import Session, col
from starlette.datastructures import FormData, UploadFile

from api.deps import Principal
from api.dossier_service.prefill import PrefillIn
from api.dossier_service.schemas import SubmitDossier
from api.pages.errors import messages
from api.pages.i18n import language_of, translator
from api.pages.rendering import render
from api.routes.attachments import keep_upload
from domain.attachments import AttachmentRefused
from domain.definition import FieldType, ProcedureDefinition
from domain.wording import mark
from forms import render as eform
from forms.eform import FormInvalid, validate_form
from forms.field_messages import field_message
from forms.posted import ADDRESS_PARTS, form_values
from infrastructure.settings import Settings
from readmodel import procedures
from readmodel.tables import ProcedureVersionRow, UnitRow

APPLICANT_FIELDS = ("full_name", "citizen_id", "phone", "email")
APPLICANT_LABELS = {"full_name": mark("Họ và tên"), "citizen_id": mark("Số định danh cá nhân"), "phone": mark("Số điện thoại"),
                    "email": mark("Thư điện tử")}  # fmt: skip
SUBMISSION_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class EFormEntry:
    """What the applicant entered so far, and what is wrong with it."""

    values: dict[str, Any] = field(default_factory=dict)
    applicant: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    prefilled: set[str] = field(default_factory=set)
    group_items: dict[str, int] = field(default_factory=dict)
    submission_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    channel: int | None = None
    receiving_unit: str | None = None


def definition_of(row: ProcedureVersionRow) -> ProcedureDefinition:
    return ProcedureDefinition.model_validate(row.body)


def procedure_in_service(session: Session, code: str) -> ProcedureVersionRow:
    """The latest version of a procedure that takes dossiers (404 otherwise, as submitting would say)."""
    row = procedures.latest(session, code)
    if row is None or row.retired_at is not None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no procedure {code!r} takes dossiers")
    return row


def procedures_in_service(session: Session) -> list[tuple[ProcedureVersionRow, ProcedureDefinition]]:
    return [(row, definition_of(row)) for row in procedures.latest_of_each(session) if row.retired_at is None]


def errors_by_path(errors: list[dict[str, Any]], strip: tuple[str, ...] = ("body", "form")) -> dict[str, list[str]]:
    """API errors (`{loc, msg, type}`) by the page's field path: `["body", "form", "address", "ward_code"]` →
    `address.ward_code`, `["body", "applicant", "full_name"]` → `applicant.full_name`; each said for a person
    (forms/field_messages.py), to be translated where shown."""
    found: dict[str, list[str]] = {}
    for error in errors:
        loc = [str(p) for p in error.get("loc", [])]
        for prefix in strip:
            if loc and loc[0] == prefix:
                loc = loc[1:]
        found.setdefault(".".join(loc), []).append(field_message(error))
    return found


def label_of(definition: ProcedureDefinition, path: str, t: Any) -> str:
    """The label of the field at a page path (group items numbered), for the list of problems."""
    parts = path.split(".")
    if parts[0] == "applicant" and len(parts) == 2:
        return t(APPLICANT_LABELS.get(parts[1], parts[1]))
    fields, said = list(definition.form.fields), []
    for part in parts:
        if part.isdigit():
            said.append(f"{t('Mục')} {int(part) + 1}")
            continue
        match = next((f for f in fields if f.name == part), None)
        if match is None:
            said.append(t(eform.TEXTS[part]) if part in ADDRESS_PARTS else part)
            break
        said.append(match.label)
        fields = list(match.fields or [])
    return " › ".join(said) or path


def said_in(t: Any, errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Field messages in the page's language (those said for a person are translated; the API's own stay)."""
    return {path: [t(message) for message in messages] for path, messages in errors.items()}


def area_choices(engine: Engine) -> eform.AreaChoices:
    """The registry's provinces and communes/wards, by name, for addresses (active units with an area code)."""
    query = select(UnitRow.area_code, UnitRow.name, UnitRow.kind, UnitRow.parent_code, UnitRow.code).where(  # type: ignore[call-overload]
        col(UnitRow.kind).in_(("province", "ward")), col(UnitRow.area_code).is_not(None), col(UnitRow.active)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    provinces = sorted(((r.area_code, r.name) for r in rows if r.kind == "province"), key=lambda p: p[1])
    area_of_unit = {r.code: r.area_code for r in rows if r.kind == "province"}
    wards: dict[str, list[tuple[str, str]]] = {}
    for r in sorted((r for r in rows if r.kind == "ward"), key=lambda r: r.name):
        province = area_of_unit.get(r.parent_code or "")
        if province is not None:
            wards.setdefault(province, []).append((r.area_code, r.name))
    return eform.AreaChoices(provinces=provinces, wards=wards)


def eform_texts(t: Any) -> dict[str, str]:
    """The eForm's own words in the page's language, and the language itself (for the choices' labels)."""
    return {**{key: t(text) for key, text in eform.TEXTS.items()}, "language": getattr(t, "language", "vi")}


async def read_entry(request: Request, definition: ProcedureDefinition, settings: Settings) -> tuple[EFormEntry, str]:
    """The post of an eForm page: the entry, and the action asked (`submit`, `prefill` or `add:<group>`)."""
    form: FormData = await request.form()

    async def keep_file(upload: Any) -> dict[str, Any]:
        assert isinstance(upload, UploadFile)
        try:
            return await keep_upload(upload, settings)
        except AttachmentRefused as refused:
            raise ValueError(refused.message) from None

    values, problems = await form_values(definition, form, keep_file)
    submission_id = str(form.get("submission_id") or "")
    entry = EFormEntry(
        values=values,
        applicant={
            k: v.strip() for k in APPLICANT_FIELDS if isinstance(v := form.get(f"applicant.{k}"), str) and v.strip()
        },
        errors=dict(problems),
        prefilled={p for p in form.getlist("prefilled_fields") if isinstance(p, str)} & definition.form.field_names,
        submission_id=submission_id if SUBMISSION_ID.match(submission_id) else uuid.uuid4().hex,
    )
    for key in form.keys():
        if key.startswith("group_items."):
            count = str(form.get(key) or "")
            if count.isdigit():
                entry.group_items[key.removeprefix("group_items.")] = min(int(count), 200)
    channel = str(form.get("channel") or "")
    entry.channel = int(channel) if channel in ("1", "3") else None
    unit = form.get("receiving_unit")
    entry.receiving_unit = unit.strip() if isinstance(unit, str) and unit.strip() else None
    action = form.get("action")
    return entry, action if isinstance(action, str) else "submit"


def add_group_item(definition: ProcedureDefinition, entry: EFormEntry, path: str) -> None:
    group = next((f for _, f in definition.form.walk() if f.name == path.split(".")[-1]), None)
    if group is not None and group.type == FieldType.group:
        present = eform.value_at(entry.values, path)
        shown = max(len(present) if isinstance(present, list) else 0, group.min_items or 0, 1)
        entry.group_items[path] = max(entry.group_items.get(path, 0), shown) + 1


async def reuse_national_data(definition: ProcedureDefinition, entry: EFormEntry, ask: Any) -> None:
    """Fill the fields a national database knows (POST /procedures/{code}/prefill's own rules and answer)."""
    keys = {f.prefill.key_field for f in definition.form.fields if f.prefill}
    given = {k: str(entry.values[k]) for k in keys if isinstance(entry.values.get(k), str | int)}
    if not given:
        entry.general.append(mark("Hãy nhập số định danh để điền sẵn."))
        return
    try:
        answer = await ask(PrefillIn(values=given))
    except ValidationError as invalid:
        entry.general += messages(list(invalid.errors(include_url=False)))
        return
    except HTTPException as refused:
        entry.general += messages(refused.detail)
        return
    for name, value in answer.values.items():
        if value is not None:
            entry.values[name] = value
            entry.prefilled.add(name)
    if answer.not_found:
        entry.general.append(f"not_found:{', '.join(answer.not_found)}")


def _form_errors(definition: ProcedureDefinition, values: Mapping[str, Any]) -> dict[str, list[str]]:
    try:
        validate_form(definition, dict(values), loc_prefix=())
    except FormInvalid as invalid:
        return errors_by_path(invalid.errors, strip=())
    return {}


def submission(definition: ProcedureDefinition, code: str, entry: EFormEntry) -> SubmitDossier | None:
    """The submission the API would receive, or None with every problem noted on the entry."""
    if entry.errors:  # files that could not be kept: say so together with everything else
        for path, said in _form_errors(definition, entry.values).items():
            entry.errors.setdefault(path, said)
        return None
    try:
        return SubmitDossier(
            procedure_code=code,
            applicant=entry.applicant,  # type: ignore[arg-type]
            form=entry.values,
            channel=entry.channel,  # type: ignore[arg-type]
            receiving_unit=entry.receiving_unit,
            prefilled_fields=sorted(entry.prefilled),
        )
    except ValidationError as invalid:
        entry.errors.update(errors_by_path(list(invalid.errors(include_url=False)), strip=()))
        for path, said in _form_errors(definition, entry.values).items():
            entry.errors.setdefault(path, said)
        return None


def refused(entry: EFormEntry, exc: HTTPException) -> None:
    if exc.status_code == 422 and isinstance(exc.detail, list):
        for path, said in errors_by_path(exc.detail).items():
            if path in ("", "prefilled_fields"):
                entry.general += said
            else:
                entry.errors.setdefault(path, []).extend(said)
    else:
        entry.general += messages(exc.detail)


def render_eform_page(
    request: Request,
    row: ProcedureVersionRow,
    entry: EFormEntry,
    *,
    principal: Principal,
    action: str,
    counter_units: list[str] | None = None,
) -> Response:
    t = translator(language_of(request))
    definition = definition_of(row)
    entry.errors = said_in(t, entry.errors)
    state = eform.FormState(
        values=entry.values, errors=entry.errors, prefilled=frozenset(entry.prefilled), group_items=entry.group_items
    )
    general = [
        t("Không tìm thấy trong CSDL quốc gia: {fields}", fields=m.removeprefix("not_found:"))
        if m.startswith("not_found:") else t(m)
        for m in entry.general
    ]  # fmt: skip
    invalid = bool(entry.errors or entry.general)
    return render(
        request,
        "eform_page.html",
        {
            "row": row,
            "definition": definition,
            "fields": eform.render_fields(
                definition, state=state, texts=eform_texts(t), areas=area_choices(request.app.state.engine)
            ),
            "fee_text": eform.fee_text(definition, eform_texts(t)),
            "has_attachments": eform.has_attachments(definition),
            "entry": entry,
            "general": general,
            "labels": {path: label_of(definition, path, t) for path in entry.errors},
            "action": action,
            "counter_units": counter_units,
            "upload_texts": json.dumps(
                {
                    "uploading": t("Đang tải lên"),
                    "uploaded": t("Đã tải lên"),
                    "upload_failed": t("Tải lên không thành công"),
                    "too_large": t("Tệp quá lớn"),
                },
                ensure_ascii=False,
            ).replace("</", "<\\/"),  # fmt: skip
            "can_prefill": any(f.prefill for f in definition.form.fields),
        },
        principal=principal,
        status_code=422 if invalid and request.method == "POST" else status.HTTP_200_OK,
    )


async def handle_eform_post(
    request: Request,
    row: ProcedureVersionRow,
    *,
    settings: Settings,
    ask_prefill: Callable[[ProcedureVersionRow, PrefillIn], Awaitable[Any]],
    receive: Callable[[SubmitDossier, str], Awaitable[Any]],
    again: Callable[[EFormEntry], Response],
) -> Any:
    """An eForm page's post: fill from national databases, show one more group item, or submit. Returns the
    receipt of a dossier received, or the page again with what to correct."""
    definition = definition_of(row)
    entry, action = await read_entry(request, definition, settings)
    if action == "prefill":
        await reuse_national_data(definition, entry, lambda body: ask_prefill(row, body))
        return again(entry)
    if action.startswith("add:"):
        add_group_item(definition, entry, action.removeprefix("add:"))
        return again(entry)
    body = submission(definition, row.code, entry)
    if body is None:
        return again(entry)
    try:
        return await receive(body, f"web:{entry.submission_id}")
    except HTTPException as exc:
        refused(entry, exc)
        return again(entry)
