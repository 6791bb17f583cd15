"""Whole-definition checks: what pydantic's shape validation cannot see; `parse_definition` runs both.

Each check returns errors with the path of the offending value, so an editor can point at it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from pydantic import ValidationError

from domain import expressions
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

Loc = list[str | int]

_NUMERIC = {FieldType.number, FieldType.money}
_CHOICE = {FieldType.choice, FieldType.multi_choice}


def parse_definition(raw: Any, result_templates: Collection[str]) -> ProcedureDefinition:
    """Parse and check a definition; raise DefinitionInvalid listing every error with its path.

    `result_templates` are the templates its results may name: they ship with the code that renders them."""
    try:
        definition = ProcedureDefinition.model_validate(raw)
    except ValidationError as exc:
        raise DefinitionInvalid(
            [DefinitionError(loc=list(e["loc"]), msg=e["msg"], type=e["type"]) for e in exc.errors()]
        ) from None
    errors = check_definition(definition, result_templates)
    if errors:
        raise DefinitionInvalid(errors)
    return definition


def check_definition(definition: ProcedureDefinition, result_templates: Collection[str]) -> list[DefinitionError]:
    errors: list[DefinitionError] = []
    _check_catalogue(definition, errors)
    _check_form(definition, errors)
    _check_steps(definition, result_templates, errors)
    return errors


def _err(errors: list[DefinitionError], loc: Loc, msg: str, kind: str) -> None:
    errors.append(DefinitionError(loc=loc, msg=msg, type=kind))


def _check_expression(
    errors: list[DefinitionError], loc: Loc, text: str | None, known: Iterable[str], what: str
) -> None:
    if text is None:
        return
    try:
        parsed = expressions.parse(text)
    except expressions.ExpressionError as exc:
        _err(errors, loc, f"invalid expression: {exc}", "expression")
        return
    unknown = sorted(parsed.names - set(known))
    if unknown:
        _err(errors, loc, f"the expression reads {', '.join(unknown)}, which {what} does not have", "unknown_name")


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
        _err(
            errors,
            ["extended_time_limit_working_days"],
            "the extended limit is shorter than the normal one",
            "contradiction",
        )
    _check_fee(errors, ["fee"], d.fee, d.form.field_names, "the form")
    for dup in _duplicates(r.id for r in d.results):
        _err(errors, ["results"], f"duplicate result document id {dup!r}", "duplicate")
    for dup in _duplicates(c.id for c in d.components):
        _err(errors, ["components"], f"duplicate component id {dup!r}", "duplicate")
    for dup in _duplicates(d.receiving_units):
        _err(errors, ["receiving_units"], f"duplicate unit {dup!r}", "duplicate")
    carried = {f.component for _, f in d.form.walk() if f.type == FieldType.attachment}
    for i, component in enumerate(d.components):
        if component.required and component.id not in carried:
            _err(
                errors, ["components", i, "id"],
                f"required component {component.id!r} has no attachment field in the form", "missing",
            )  # fmt: skip


def _check_fee(errors: list[DefinitionError], loc: Loc, fee, known: Iterable[str], what: str) -> None:  # noqa: ANN001
    if (fee.amount_vnd is None) == (fee.expression is None):
        _err(errors, loc, "a fee has either amount_vnd or expression, exactly one", "contradiction")
    _check_expression(errors, [*loc, "expression"], fee.expression, known, what)


# ---------------------------------------------------------------------------------- eForm


def _check_form(d: ProcedureDefinition, errors: list[DefinitionError]) -> None:
    top = {f.name: f for f in d.form.fields}
    components = {c.id: c for c in d.components}

    def check_fields(fields: list[FormField], path: Loc, scope: dict[str, FormField]) -> None:
        for dup in _duplicates(f.name for f in fields):
            _err(errors, path, f"duplicate field name {dup!r}", "duplicate")
        for i, f in enumerate(fields):
            here = [*path, i]
            _check_field_rules(f, here, errors)
            others = set(scope) - {f.name}
            _check_expression(errors, [*here, "visible_when"], f.visible_when, others, "the form")
            _check_expression(errors, [*here, "required_when"], f.required_when, others, "the form")
            if f.type == FieldType.attachment:
                if f.component is None and components:
                    _err(errors, [*here, "component"], "name the dossier component this attachment carries", "missing")
                elif f.component is not None and f.component not in components:
                    _err(
                        errors, [*here, "component"], f"unknown dossier component {f.component!r}", "unknown_component"
                    )
            if f.prefill is not None:
                key = top.get(f.prefill.key_field)
                if key is None or key.type != FieldType.citizen_id:
                    _err(
                        errors, [*here, "prefill", "key_field"],
                        f"{f.prefill.key_field!r} is not a citizen-ID field of the form", "unknown_name",
                    )  # fmt: skip
                if f.prefill.attribute not in POPULATION_ATTRIBUTES:
                    _err(
                        errors, [*here, "prefill", "attribute"],
                        f"the population database has no {f.prefill.attribute!r}; "
                        f"it has {', '.join(sorted(POPULATION_ATTRIBUTES))}", "unknown_name",
                    )  # fmt: skip
            if f.fields:
                # Conditions inside a group item may read the item's fields and the form's.
                check_fields(f.fields, [*here, "fields"], {**scope, **{g.name: g for g in f.fields}})

    check_fields(d.form.fields, ["form", "fields"], top)


def _check_field_rules(f: FormField, here: Loc, errors: list[DefinitionError]) -> None:
    def refuse(attr: str, msg: str, kind: str = "not_allowed") -> None:
        _err(errors, [*here, attr], msg, kind)

    if f.type in _CHOICE and not f.options:
        refuse("options", "a choice field needs options", "missing")
    if f.options and f.type not in _CHOICE:
        refuse("options", f"a {f.type} field has no options")
    if f.options and _duplicates(f.options):
        refuse("options", "options repeat", "duplicate")
    if f.type == FieldType.group and not f.fields:
        refuse("fields", "a group needs the fields of its items", "missing")
    if f.fields and f.type != FieldType.group:
        refuse("fields", "only a group has sub-fields")
    if (f.minimum is not None or f.maximum is not None) and f.type not in _NUMERIC:
        refuse("minimum" if f.minimum is not None else "maximum", f"a {f.type} field has no minimum or maximum")
    if (f.min_length is not None or f.max_length is not None or f.pattern is not None) and f.type != FieldType.text:
        refuse("pattern" if f.pattern else "min_length", f"a {f.type} field has no length or pattern rules")
    if (f.min_items is not None or f.max_items is not None) and f.type not in {FieldType.group, FieldType.multi_choice}:
        refuse("min_items", f"a {f.type} field has no item counts")
    if f.integer and f.type != FieldType.number:
        refuse("integer", "only a number field can be integer")
    if f.component is not None and f.type != FieldType.attachment:
        refuse("component", "only an attachment carries a dossier component")
    if f.minimum is not None and f.maximum is not None and f.minimum > f.maximum:
        refuse("minimum", "minimum is greater than maximum", "contradiction")
    if f.min_length is not None and f.max_length is not None and f.min_length > f.max_length:
        refuse("min_length", "min_length is greater than max_length", "contradiction")
    if f.min_items is not None and f.max_items is not None and f.min_items > f.max_items:
        refuse("min_items", "min_items is greater than max_items", "contradiction")
    if f.options and f.type == FieldType.multi_choice and f.min_items is not None and f.min_items > len(f.options):
        refuse("min_items", "min_items exceeds the number of options", "contradiction")
    if f.pattern is not None and (problem := is_valid_regex(f.pattern)):
        refuse("pattern", f"not a valid regular expression: {problem}", "pattern")
    if f.required and f.visible_when:
        refuse("visible_when", "a required field cannot be hidden: use required_when", "contradiction")
    if f.required and f.required_when:
        refuse(
            "required_when", "the field is always required; drop required_when or set required: false", "contradiction"
        )


# ---------------------------------------------------------------------------------- steps


def _check_steps(d: ProcedureDefinition, templates: Collection[str], errors: list[DefinitionError]) -> None:
    all_steps = list(d.all_steps())
    for dup in _duplicates(step.id for _, step in all_steps):
        loc = next(loc for loc, step in all_steps if step.id == dup)
        _err(errors, [*loc, "id"], f"duplicate step id {dup!r}", "duplicate")
    form_names = d.form.field_names
    # A step's result (adapter answers) can be read by later conditions and fees as `step_id.field`.
    result_names = {step.id for _, step in all_steps if step.kind == StepKind.adapter}
    readable = form_names | result_names
    fields = {f.name: f for f in d.form.fields}
    documents = {r.id for r in d.results}

    for loc, step in all_steps:
        _check_step(step, loc, errors, d_code=d.code, readable=readable, fields=fields, documents=documents)

    if d.start is not None and d.start not in {s.id for s in d.steps}:
        _err(errors, ["start"], f"start names unknown step {d.start!r}", "unknown_step")
        return
    _check_scope(d.steps, ["steps"], d.start_step, errors)
    for loc, step in all_steps:
        for b, branch in enumerate(step.branches or []):
            _check_scope(branch.steps, [*loc, "branches", b, "steps"], branch.steps[0].id, errors)

    branch_ids = {b.id for _, step in all_steps for b in step.branches or []}
    for i, doc in enumerate(d.results):
        if doc.branch is not None and doc.branch not in branch_ids:
            _err(errors, ["results", i, "branch"], f"no parallel step has a branch {doc.branch!r}", "unknown_name")
        if doc.template is not None and doc.template not in templates:
            _err(
                errors,
                ["results", i, "template"],
                f"unknown result template {doc.template!r}; one of: {', '.join(sorted(templates))}",
                "unknown_name",
            )

    if not any(e.type in {"unknown_step", "loop", "duplicate"} for e in errors):
        # Conditional steps (skip_when) count only against the extended limit of special cases.
        usual = _longest_budget(d.steps, d.start_step, include_conditional=False)
        longest = _longest_budget(d.steps, d.start_step, include_conditional=True)
        extended = d.extended_time_limit_working_days or d.time_limit_working_days
        if usual > d.time_limit_working_days:
            _err(
                errors, ["steps"],
                f"the usual path needs {usual} working days of step budgets, more than the legal limit of "
                f"{d.time_limit_working_days}", "budget",
            )  # fmt: skip
        elif longest > extended:
            _err(
                errors, ["steps"],
                f"with its conditional steps the path needs {longest} working days, more than the extended limit of "
                f"{extended}", "budget",
            )  # fmt: skip


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
    def refuse(attr: str, msg: str, kind: str = "not_allowed") -> None:
        _err(errors, [*loc, attr], msg, kind)

    kind = step.kind
    if step.is_officer_step:
        if step.role is None:
            refuse("role", f"a {kind} step needs a role", "missing")
        if DecisionKind.return_ in step.allowed_decisions and step.return_to is None:
            refuse("return_to", "a step that takes 'return' names the step it returns to", "missing")
        if step.decisions and DecisionKind.approve not in step.decisions:
            refuse("decisions", "an officer step must be able to approve", "missing")
    else:
        for attr in ("role", "decisions", "return_to", "on_overdue"):
            if getattr(step, attr) is not None:
                refuse(attr, f"only officer steps have {attr}")
    if kind == StepKind.adapter:
        if step.system is None:
            refuse("system", "an adapter step names its external system", "missing")
        elif step.system not in KNOWN_SYSTEMS - {"notification"}:
            refuse(
                "system",
                f"unknown external system {step.system!r}; known: {', '.join(sorted(KNOWN_SYSTEMS - {'notification'}))}",
                "unknown_system",
            )
        if step.operation is None:
            refuse("operation", "an adapter step names its operation", "missing")
    elif kind == StepKind.notification:
        if step.channel is None:
            refuse("channel", "a notification names its channel (sms, email, vneid)", "missing")
        if not step.message:
            refuse("message", "a notification carries its message", "missing")
    if kind not in CALLING_STEP_KINDS:
        for attr in ("system", "operation", "channel", "message"):
            if getattr(step, attr) is not None:
                refuse(attr, f"a {kind} step has no {attr}")
        if step.on_refusal is not None and kind != StepKind.child:
            refuse("on_refusal", f"a {kind} step has no on_refusal")
    elif kind == StepKind.notification:
        for attr in ("system", "operation"):
            if getattr(step, attr) is not None:
                refuse(attr, "a notification goes to the notification system; it names no system or operation")
    if kind == StepKind.fee:
        if step.fee is not None:
            _check_fee(errors, [*loc, "fee"], step.fee, readable, "the form or an earlier step")
    elif step.fee is not None:
        refuse("fee", "only a fee step has a fee")
    if kind == StepKind.parallel:
        if not step.branches:
            refuse("branches", "a parallel step needs branches", "missing")
        else:
            for dup in _duplicates(b.id for b in step.branches):
                refuse("branches", f"duplicate branch id {dup!r}", "duplicate")
            for b, branch in enumerate(step.branches):
                _check_expression(errors, [*loc, "branches", b, "when"], branch.when, readable, "the form")
    elif step.branches is not None:
        refuse("branches", "only a parallel step has branches")
    if kind == StepKind.child:
        if step.procedure is None:
            refuse("procedure", "a child step names the procedure the other agency runs", "missing")
        elif step.procedure == d_code:
            refuse("procedure", "a procedure cannot be its own child", "loop")
        for name, text in (step.inputs or {}).items():
            _check_expression(errors, [*loc, "inputs", name], text, readable, "the form or an earlier step")
    else:
        for attr in ("procedure", "inputs"):
            if getattr(step, attr) is not None:
                refuse(attr, f"only a child step has {attr}")
    if kind == StepKind.result:
        for d, doc in enumerate(step.documents or []):
            if doc not in documents:
                _err(errors, [*loc, "documents", d], f"unknown result document {doc!r}", "unknown_name")
    elif step.documents is not None:
        refuse("documents", "only a result step issues documents")
    _check_expression(errors, [*loc, "skip_when"], step.skip_when, readable, "the form or an earlier step")

    unit = step.unit
    if unit.select == UnitSelection.fixed_unit and unit.unit_code is None:
        _err(errors, [*loc, "unit", "unit_code"], "a fixed unit needs its unit_code", "missing")
    if unit.select != UnitSelection.fixed_unit and unit.unit_code is not None:
        _err(errors, [*loc, "unit", "unit_code"], "unit_code goes with select: fixed_unit", "not_allowed")
    if unit.select == UnitSelection.competent_unit:
        address = fields.get(unit.address_field or "")
        if address is None or address.type != FieldType.address:
            _err(
                errors, [*loc, "unit", "address_field"],
                "the competent unit is chosen by an address field of the form; name one", "missing",
            )  # fmt: skip


def _check_scope(steps: list[Step], path: Loc, start: str, errors: list[DefinitionError]) -> None:
    """Transitions stay within their scope (the procedure, or one branch); every step is reached and can end."""
    index = {step.id: i for i, step in enumerate(steps)}
    bad = False
    for i, step in enumerate(steps):
        for attr in ("next", "return_to"):
            target = getattr(step, attr)
            if target is not None and target not in index:
                _err(
                    errors,
                    [*path, i, attr],
                    f"transition to unknown step {target!r} (or one outside this branch)",
                    "unknown_step",
                )
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
            _err(errors, [*path, i, "id"], f"step {step.id!r} cannot be reached", "unreachable")

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
            _err(errors, [*path, i, "next"], f"from {step.id!r} the steps loop with no way out", "loop")

    # `return` goes back: the target must come before the step on the way from the start.
    for i, step in enumerate(steps):
        if step.return_to is not None and not _leads_to(edges_next(steps), step.return_to, step.id):
            _err(errors, [*path, i, "return_to"], f"{step.return_to!r} is not an earlier step", "not_earlier")


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


def _longest_budget(steps: list[Step], start: str, *, include_conditional: bool) -> int:
    """Working days along the path of `next` transitions; a parallel step costs its slowest branch."""
    by_id = {step.id: step for step in steps}
    total = 0
    seen: set[str] = set()
    current: str | None = start
    while current is not None and current not in seen:
        seen.add(current)
        step = by_id[current]
        current = step.next
        if step.skip_when is not None and not include_conditional:
            continue
        total += step.budget_working_days
        branches = [b for b in step.branches or [] if include_conditional or b.when is None]
        total += max(
            (_longest_budget(b.steps, b.steps[0].id, include_conditional=include_conditional) for b in branches),
            default=0,
        )
    return total
