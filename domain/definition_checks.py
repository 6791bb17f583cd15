"""Whole-definition checks: what pydantic's shape validation cannot see; `parse_definition` runs both.

Each check returns errors with the path of the offending value, so an editor can point at it, in Vietnamese
(translated where read) and with a "did you mean …?" where a name is a near miss (`domain.definition_errors`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from domain.definition import (
    CALLING_STEP_KINDS,
    KNOWN_SYSTEMS,
    POPULATION_ATTRIBUTES,
    DecisionKind,
    DefinitionError,
    DefinitionInvalid,
    FieldType,
    FormField,
    ProcedureDefinition,
    Step,
    StepKind,
    UnitSelection,
    is_valid_regex,
)
from domain.definition_errors import check_expression, closest, every_problem, problem
from domain.time_limits import check_time_limits
from domain.wording import mark

Loc = list[str | int]

_NUMERIC = {FieldType.number, FieldType.money}
_CHOICE = {FieldType.choice, FieldType.multi_choice}


def parse_definition(
    raw: Any, result_templates: Collection[str], units: Collection[str] | None = None
) -> ProcedureDefinition:
    """Parse and check a definition; raise DefinitionInvalid listing every error with its path.

    `result_templates` are the templates its results may name: they ship with the code that renders them.
    `units`, when given, are the registry's unit codes: every unit the definition names must be one of them."""
    definition, errors = every_problem(raw, lambda parsed: check_definition(parsed, result_templates, units))
    if errors or definition is None:
        raise DefinitionInvalid(list(errors))
    return definition


def check_definition(
    definition: ProcedureDefinition, result_templates: Collection[str], units: Collection[str] | None = None
) -> list[DefinitionError]:
    errors: list[DefinitionError] = []
    _check_catalogue(definition, errors)
    _check_form(definition, errors)
    _check_steps(definition, result_templates, errors)
    if units is not None:
        _check_unit_codes(definition, units, errors)
    return errors


def named_units(definition: ProcedureDefinition) -> list[tuple[Loc, str]]:
    """Every unit code a definition names, with its path: receiving units, fixed units (child steps' included), units
    chosen by the form and units an overdue step is handed to."""
    named: list[tuple[Loc, str]] = [(["receiving_units", i], code) for i, code in enumerate(definition.receiving_units)]
    for loc, step in definition.all_steps():
        if step.unit.unit_code is not None:
            named.append(([*loc, "unit", "unit_code"], step.unit.unit_code))
        for c, case in enumerate(step.unit.level_when or []):
            if case.unit_code is not None:
                named.append(([*loc, "unit", "level_when", c, "unit_code"], case.unit_code))
        if step.on_overdue is not None and step.on_overdue.unit_code is not None:
            named.append(([*loc, "on_overdue", "unit_code"], step.on_overdue.unit_code))
    return named


def _check_unit_codes(d: ProcedureDefinition, units: Collection[str], errors: list[DefinitionError]) -> None:
    """A unit the registry does not have would receive dossiers in an inbox nobody sees."""
    registered = set(units)
    for loc, code in named_units(d):
        if code not in registered:
            errors.append(problem(loc, mark("không có đơn vị '{unit}' trong danh mục đơn vị"), "unknown_unit",
                                  unit=code, suggestion=closest(code, registered)))  # fmt: skip


def _err(errors: list[DefinitionError], loc: Loc, text: str, kind: str, /, **values: object) -> None:
    """An error said in Vietnamese (`text`, with `{name}` values), translated where it is read."""
    errors.append(problem(loc, text, kind, **values))


def _duplicates(values: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    dup: set[str] = set()
    for v in values:
        (dup if v in seen else seen).add(v)
    return dup


# ------------------------------------------------------------------------------ catalogue


def _check_catalogue(d: ProcedureDefinition, errors: list[DefinitionError]) -> None:
    if (
        d.extended_time_limit_working_days is not None
        and d.extended_time_limit_working_days < d.time_limit_working_days
    ):
        _err(errors, ["extended_time_limit_working_days"],
             mark("thời hạn gia hạn ngắn hơn thời hạn thông thường"), "contradiction")  # fmt: skip
    _check_fee(errors, ["fee"], d.fee, d.form.field_names, "form")
    for dup in _duplicates(r.id for r in d.results):
        _err(errors, ["results"], mark("trùng mã giấy tờ kết quả '{id}'"), "duplicate", id=dup)
    for dup in _duplicates(c.id for c in d.components):
        _err(errors, ["components"], mark("trùng mã thành phần hồ sơ '{id}'"), "duplicate", id=dup)
    for dup in _duplicates(d.receiving_units):
        _err(errors, ["receiving_units"], mark("trùng đơn vị '{unit}'"), "duplicate", unit=dup)
    carried = {f.component for _, f in d.form.walk() if f.type == FieldType.attachment}
    for i, component in enumerate(d.components):
        if component.required and component.id not in carried:
            _err(
                errors, ["components", i, "id"],
                mark("thành phần bắt buộc '{id}' không có trường tệp đính kèm nào trong tờ khai"), "missing",
                id=component.id,
            )  # fmt: skip


def _check_fee(errors: list[DefinitionError], loc: Loc, fee, known: Iterable[str], what: str) -> None:  # noqa: ANN001
    if (fee.amount_vnd is None) == (fee.expression is None):
        _err(errors, loc, mark("lệ phí có amount_vnd hoặc expression, đúng một trong hai"), "contradiction")
    check_expression(errors, [*loc, "expression"], fee.expression, known, what)


# ---------------------------------------------------------------------------------- eForm


def _check_form(d: ProcedureDefinition, errors: list[DefinitionError]) -> None:
    top = {f.name: f for f in d.form.fields}
    components = {c.id: c for c in d.components}

    def check_fields(fields: list[FormField], path: Loc, scope: dict[str, FormField]) -> None:
        for dup in _duplicates(f.name for f in fields):
            _err(errors, path, mark("trùng tên trường '{name}'"), "duplicate", name=dup)
        for i, f in enumerate(fields):
            here = [*path, i]
            _check_field_rules(f, here, errors)
            others = set(scope) - {f.name}
            check_expression(errors, [*here, "visible_when"], f.visible_when, others, "form")
            check_expression(errors, [*here, "required_when"], f.required_when, others, "form")
            if f.type == FieldType.attachment:
                if f.component is None and components:
                    _err(errors, [*here, "component"], mark("ghi thành phần hồ sơ mà tệp đính kèm này mang"), "missing")
                elif f.component is not None and f.component not in components:
                    errors.append(problem([*here, "component"], mark("không có thành phần hồ sơ '{id}'"),
                                          "unknown_component", id=f.component,
                                          suggestion=closest(f.component, components)))  # fmt: skip
            if f.prefill is not None:
                key = top.get(f.prefill.key_field)
                if key is None or key.type != FieldType.citizen_id:
                    _err(
                        errors, [*here, "prefill", "key_field"],
                        mark("'{name}' không phải trường số định danh cá nhân của tờ khai"), "unknown_name",
                        name=f.prefill.key_field,
                    )  # fmt: skip
                if f.prefill.attribute not in POPULATION_ATTRIBUTES:
                    _err(
                        errors, [*here, "prefill", "attribute"],
                        mark("CSDL quốc gia về dân cư không có '{name}'; có: {known}"), "unknown_name",
                        name=f.prefill.attribute, known=", ".join(sorted(POPULATION_ATTRIBUTES)),
                    )  # fmt: skip
            if f.fields:
                # Conditions inside a group item may read the item's fields and the form's.
                check_fields(f.fields, [*here, "fields"], {**scope, **{g.name: g for g in f.fields}})

    check_fields(d.form.fields, ["form", "fields"], top)


def _check_field_rules(f: FormField, here: Loc, errors: list[DefinitionError]) -> None:
    def refuse(attr: str, text: str, kind: str = "not_allowed", /, **values: object) -> None:
        _err(errors, [*here, attr], text, kind, **values)

    if f.type in _CHOICE and not f.options:
        refuse("options", mark("trường lựa chọn cần các phương án (options)"), "missing")
    if f.options and f.type not in _CHOICE:
        refuse("options", mark("trường {type} không có phương án (options)"), type=f.type)
    if f.options and _duplicates(f.options):
        refuse("options", mark("các phương án lặp lại"), "duplicate")
    if f.type == FieldType.group and not f.fields:
        refuse("fields", mark("nhóm cần các trường của mỗi mục"), "missing")
    if f.fields and f.type != FieldType.group:
        refuse("fields", mark("chỉ nhóm mới có trường con"))
    if (f.minimum is not None or f.maximum is not None) and f.type not in _NUMERIC:
        refuse(
            "minimum" if f.minimum is not None else "maximum",
            mark("trường {type} không có minimum hay maximum"),
            type=f.type,
        )
    if (f.min_length is not None or f.max_length is not None or f.pattern is not None) and f.type != FieldType.text:
        refuse(
            "pattern" if f.pattern else "min_length", mark("trường {type} không có quy tắc độ dài hay mẫu"), type=f.type
        )
    if (f.min_items is not None or f.max_items is not None) and f.type not in {FieldType.group, FieldType.multi_choice}:
        refuse("min_items", mark("trường {type} không có số mục"), type=f.type)
    if f.integer and f.type != FieldType.number:
        refuse("integer", mark("chỉ trường số mới có thể là số nguyên"))
    if f.component is not None and f.type != FieldType.attachment:
        refuse("component", mark("chỉ tệp đính kèm mới mang thành phần hồ sơ"))
    if f.minimum is not None and f.maximum is not None and f.minimum > f.maximum:
        refuse("minimum", mark("minimum lớn hơn maximum"), "contradiction")
    if f.min_length is not None and f.max_length is not None and f.min_length > f.max_length:
        refuse("min_length", mark("min_length lớn hơn max_length"), "contradiction")
    if f.min_items is not None and f.max_items is not None and f.min_items > f.max_items:
        refuse("min_items", mark("min_items lớn hơn max_items"), "contradiction")
    if f.options and f.type == FieldType.multi_choice and f.min_items is not None and f.min_items > len(f.options):
        refuse("min_items", mark("min_items vượt quá số phương án"), "contradiction")
    if f.pattern is not None and (bad := is_valid_regex(f.pattern)):
        refuse("pattern", mark("biểu thức chính quy không hợp lệ: {problem}"), "pattern", problem=bad)
    if f.required and f.visible_when:
        refuse("visible_when", mark("trường bắt buộc không thể bị ẩn: dùng required_when"), "contradiction")
    if f.required and f.required_when:
        refuse(
            "required_when", mark("trường luôn bắt buộc; bỏ required_when hoặc đặt required: false"), "contradiction"
        )


# ---------------------------------------------------------------------------------- steps


def _check_steps(d: ProcedureDefinition, templates: Collection[str], errors: list[DefinitionError]) -> None:
    all_steps = list(d.all_steps())
    for dup in _duplicates(step.id for _, step in all_steps):
        loc = next(loc for loc, step in all_steps if step.id == dup)
        _err(errors, [*loc, "id"], mark("trùng mã bước '{id}'"), "duplicate", id=dup)
    form_names = d.form.field_names
    # A step's result (adapter answers) can be read by later conditions and fees as `step_id.field`.
    result_names = {step.id for _, step in all_steps if step.kind == StepKind.adapter}
    readable = form_names | result_names
    fields = {f.name: f for f in d.form.fields}
    documents = {r.id for r in d.results}

    for loc, step in all_steps:
        _check_step(step, loc, errors, d_code=d.code, readable=readable, fields=fields, documents=documents)

    if d.start is not None and d.start not in {s.id for s in d.steps}:
        errors.append(problem(["start"], mark("start ghi bước không có '{id}'"), "unknown_step", id=d.start,
                              suggestion=closest(d.start, (s.id for s in d.steps))))  # fmt: skip
        return
    _check_scope(d.steps, ["steps"], d.start_step, errors)
    for loc, step in all_steps:
        for b, branch in enumerate(step.branches or []):
            _check_scope(branch.steps, [*loc, "branches", b, "steps"], branch.steps[0].id, errors)

    branch_ids = {b.id for _, step in all_steps for b in step.branches or []}
    for i, doc in enumerate(d.results):
        if doc.branch is not None and doc.branch not in branch_ids:
            _err(
                errors,
                ["results", i, "branch"],
                mark("không bước song song nào có nhánh '{id}'"),
                "unknown_name",
                id=doc.branch,
            )
        if doc.template is not None and doc.template not in templates:
            _err(
                errors,
                ["results", i, "template"],
                mark("không có mẫu kết quả '{name}'; chọn một trong: {known}"),
                "unknown_name",
                name=doc.template,
                known=", ".join(sorted(templates)),
            )

    # Conditional steps (skip_when) count only against the extended limit of special cases.
    check_time_limits(d, errors, graph_sound=not any(e.type in {"unknown_step", "loop", "duplicate"} for e in errors))


def _check_step(
    step: Step,
    loc: Loc,
    errors: list[DefinitionError],
    *,
    d_code: str,
    readable: set[str],
    fields: dict[str, FormField],
    documents: set[str],
) -> None:
    def refuse(attr: str, text: str, kind: str = "not_allowed", /, **values: object) -> None:
        _err(errors, [*loc, attr], text, kind, **values)

    kind = step.kind
    if step.is_officer_step:
        if step.role is None:
            refuse("role", mark("bước {kind} cần vai trò (role)"), "missing", kind=kind)
        if DecisionKind.return_ in step.allowed_decisions and step.return_to is None:
            refuse("return_to", mark("bước nhận quyết định 'return' ghi bước mà nó trả về"), "missing")
        if step.decisions and DecisionKind.approve not in step.decisions:
            refuse("decisions", mark("bước của cán bộ phải có thể phê duyệt (approve)"), "missing")
    else:
        for attr in ("role", "decisions", "return_to", "on_overdue"):
            if getattr(step, attr) is not None:
                refuse(attr, mark("chỉ bước của cán bộ mới có {attr}"), attr=attr)
    if kind == StepKind.adapter:
        if step.system is None:
            refuse("system", mark("bước kết nối ghi hệ thống bên ngoài của nó"), "missing")
        elif step.system not in KNOWN_SYSTEMS - {"notification"}:
            systems = sorted(KNOWN_SYSTEMS - {"notification"})
            errors.append(problem([*loc, "system"], mark("không có hệ thống bên ngoài '{name}'; có: {known}"),
                                  "unknown_system", suggestion=closest(step.system, systems),
                                  name=step.system, known=", ".join(systems)))  # fmt: skip
        if step.operation is None:
            refuse("operation", mark("bước kết nối ghi thao tác (operation) của nó"), "missing")
    elif kind == StepKind.notification:
        if step.channel is None:
            refuse("channel", mark("thông báo ghi kênh gửi (sms, email, vneid)"), "missing")
        if not step.message:
            refuse("message", mark("thông báo mang nội dung (message)"), "missing")
    if kind not in CALLING_STEP_KINDS:
        for attr in ("system", "operation", "channel", "message"):
            if getattr(step, attr) is not None:
                refuse(attr, mark("bước {kind} không có {attr}"), kind=kind, attr=attr)
        if step.on_refusal is not None and kind != StepKind.child:
            refuse("on_refusal", mark("bước {kind} không có {attr}"), kind=kind, attr="on_refusal")
    elif kind == StepKind.notification:
        for attr in ("system", "operation"):
            if getattr(step, attr) is not None:
                refuse(attr, mark("thông báo đi qua hệ thống thông báo; không ghi system hay operation"))
    if kind == StepKind.fee:
        if step.fee is not None:
            _check_fee(errors, [*loc, "fee"], step.fee, readable, "earlier")
    elif step.fee is not None:
        refuse("fee", mark("chỉ bước thu phí mới có lệ phí (fee)"))
    if kind == StepKind.parallel:
        if not step.branches:
            refuse("branches", mark("bước song song cần các nhánh (branches)"), "missing")
        else:
            for dup in _duplicates(b.id for b in step.branches):
                refuse("branches", mark("trùng mã nhánh '{id}'"), "duplicate", id=dup)
            for b, branch in enumerate(step.branches):
                check_expression(errors, [*loc, "branches", b, "when"], branch.when, readable, "form")
    elif step.branches is not None:
        refuse("branches", mark("chỉ bước song song mới có nhánh"))
    if kind == StepKind.child:
        if step.procedure is None:
            refuse("procedure", mark("bước liên thông ghi thủ tục mà cơ quan kia giải quyết"), "missing")
        elif step.procedure == d_code:
            refuse("procedure", mark("thủ tục không thể liên thông với chính nó"), "loop")
        for name, text in (step.inputs or {}).items():
            check_expression(errors, [*loc, "inputs", name], text, readable)
    else:
        for attr in ("procedure", "inputs"):
            if getattr(step, attr) is not None:
                refuse(attr, mark("chỉ bước liên thông mới có {attr}"), attr=attr)
    if kind == StepKind.result:
        for d, doc in enumerate(step.documents or []):
            if doc not in documents:
                errors.append(problem([*loc, "documents", d], mark("không có giấy tờ kết quả '{id}'"), "unknown_name",
                                      id=doc, suggestion=closest(doc, documents)))  # fmt: skip
    elif step.documents is not None:
        refuse("documents", mark("chỉ bước trả kết quả mới cấp giấy tờ"))
    check_expression(errors, [*loc, "skip_when"], step.skip_when, readable)

    unit = step.unit
    if unit.select == UnitSelection.fixed_unit and unit.unit_code is None:
        _err(errors, [*loc, "unit", "unit_code"], mark("đơn vị cố định cần unit_code"), "missing")
    if unit.select != UnitSelection.fixed_unit and unit.unit_code is not None:
        _err(errors, [*loc, "unit", "unit_code"], mark("unit_code đi với select: fixed_unit"), "not_allowed")
    addressed = unit.select in (UnitSelection.competent_unit, UnitSelection.by_sector)
    if addressed:
        address = fields.get(unit.address_field or "")
        if address is None or address.type != FieldType.address:
            _err(
                errors, [*loc, "unit", "address_field"],
                mark("đơn vị có thẩm quyền được chọn theo một trường địa chỉ của tờ khai; hãy ghi trường đó"), "missing",
            )  # fmt: skip
    elif unit.address_field is not None or unit.level is not None:
        attr = "address_field" if unit.address_field is not None else "level"
        _err(errors, [*loc, "unit", attr], mark("{attr} đi với select: competent_unit hoặc by_sector"),
             "not_allowed", attr=attr)  # fmt: skip
    form_names = set(fields)
    for c, case in enumerate(unit.level_when or []):
        here = [*loc, "unit", "level_when", c]
        if (case.level is None) == (case.unit_code is None):
            _err(errors, here, mark("mỗi trường hợp ghi level hoặc unit_code, đúng một trong hai"), "contradiction")
        elif case.level is not None and not addressed:
            _err(errors, [*here, "level"], mark("chọn cấp theo tờ khai đi với select: competent_unit hoặc by_sector"),
                 "not_allowed")  # fmt: skip
        # The unit is chosen when the dossier is received: from the form alone.
        check_expression(errors, [*here, "when"], case.when, form_names, "form")
        if case.when is None and c != len(unit.level_when or []) - 1:
            _err(errors, [*here, "when"], mark("chỉ trường hợp cuối cùng được bỏ when"), "unreachable")


def _check_scope(steps: list[Step], path: Loc, start: str, errors: list[DefinitionError]) -> None:
    """Transitions stay within their scope (the procedure, or one branch); every step is reached and can end."""
    index = {step.id: i for i, step in enumerate(steps)}
    bad = False
    for i, step in enumerate(steps):
        for attr in ("next", "return_to"):
            target = getattr(step, attr)
            if target is not None and target not in index:
                errors.append(problem([*path, i, attr], mark("chuyển tới bước không có '{id}' (hoặc bước ngoài nhánh này)"),
                                      "unknown_step", id=target, suggestion=closest(target, index)))  # fmt: skip
                bad = True
    if bad:
        return

    edges = {step.id: [t for t in (step.next, step.return_to) if t is not None] for step in steps}
    reached: set[str] = set()
    frontier = [start]
    while frontier:
        current = frontier.pop()
        if current not in reached:
            reached.add(current)
            frontier.extend(edges[current])
    for i, step in enumerate(steps):
        if step.id not in reached:
            _err(errors, [*path, i, "id"], mark("không đi tới được bước '{id}'"), "unreachable", id=step.id)

    # A loop with no way out: a step from which no path leads to an end (a step with no `next`).
    can_end = {step.id for step in steps if step.next is None}
    changed = True
    while changed:
        changed = False
        for step in steps:
            if step.id not in can_end and any(t in can_end for t in edges[step.id]):
                can_end.add(step.id)
                changed = True
    for i, step in enumerate(steps):
        if step.id in reached and step.id not in can_end:
            _err(errors, [*path, i, "next"], mark("từ '{id}' các bước lặp vòng không lối ra"), "loop", id=step.id)

    # `return` goes back: the target must come before the step on the way from the start.
    for i, step in enumerate(steps):
        if step.return_to is not None and not _leads_to(edges_next(steps), step.return_to, step.id):
            _err(
                errors, [*path, i, "return_to"], mark("'{id}' không phải bước trước"), "not_earlier", id=step.return_to
            )


def edges_next(steps: list[Step]) -> dict[str, str | None]:
    return {step.id: step.next for step in steps}


def _leads_to(nexts: dict[str, str | None], origin: str, target: str) -> bool:
    seen: set[str] = set()
    current: str | None = nexts.get(origin)
    while current is not None and current not in seen:
        if current == target:
            return True
        seen.add(current)
        current = nexts.get(current)
    return False
