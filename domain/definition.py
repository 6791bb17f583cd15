"""The procedure definition language: an eForm plus a graph of processing steps, as data.

A definition is parsed by pydantic (shape) and then checked as a whole (graph, roles,
systems), so an administrator learns every problem, each with its path, before any
citizen meets the procedure.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

IDENTIFIER = r"^[a-z][a-z0-9_]{0,62}$"
AGENCY_CODE = r"^[A-Z0-9]{1,10}(\.[A-Z0-9]{1,10}){0,6}$"
CATALOGUE_CODE = r"^\d\.\d{6}(\.[A-Z0-9]{1,10})?$"


class UnitLevel(StrEnum):
    ministry = "ministry"
    province = "province"
    ward = "ward"


class Role(StrEnum):
    reception = "reception"
    specialist = "specialist"
    leader = "leader"


class StepKind(StrEnum):
    reception = "reception"  # one-stop counter checks the dossier is complete and valid
    review = "review"  # a specialist examines the substance
    approval = "approval"  # a leader approves (and later signs)
    adapter = "adapter"  # a call to an external agency system
    result = "result"  # the result is issued electronically


OFFICER_STEP_KINDS = frozenset({StepKind.reception, StepKind.review, StepKind.approval})


class DecisionKind(StrEnum):
    approve = "approve"
    reject = "reject"
    request_supplement = "request_supplement"


class FieldType(StrEnum):
    text = "text"
    number = "number"
    money = "money"
    date = "date"
    choice = "choice"
    multi_choice = "multi_choice"
    boolean = "boolean"
    citizen_id = "citizen_id"
    phone = "phone"
    email = "email"
    group = "group"


# The external systems adapters know how to reach (issue "connected government" grows this list).
KNOWN_SYSTEMS = frozenset(
    {
        "civil_status",
        "residence",
        "social_insurance",
        "business_registration",
        "tax",
        "land_registry",
        "population",
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormField(_Strict):
    name: Annotated[str, Field(pattern=IDENTIFIER)]
    label: Annotated[str, Field(min_length=1, max_length=200)]
    type: FieldType
    required: bool = True
    pattern: str | None = None
    min_length: Annotated[int, Field(ge=0)] | None = None
    max_length: Annotated[int, Field(ge=1)] | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False  # a number field that takes whole numbers only (copies, employees)
    options: list[Annotated[str, Field(min_length=1)]] | None = None
    fields: list[FormField] | None = None  # the fields of one item of a repeating group
    min_items: Annotated[int, Field(ge=0)] | None = None
    max_items: Annotated[int, Field(ge=1)] | None = None


class EForm(_Strict):
    fields: Annotated[list[FormField], Field(min_length=1)]


class UnitAssignment(_Strict):
    """How the unit that acts on a step is chosen."""

    select: Literal["receiving_unit", "fixed_unit"] = "receiving_unit"
    unit_code: Annotated[str, Field(pattern=AGENCY_CODE)] | None = None


class Step(_Strict):
    id: Annotated[str, Field(pattern=IDENTIFIER)]
    kind: StepKind
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role | None = None
    unit_level: UnitLevel = UnitLevel.ward
    unit: UnitAssignment = UnitAssignment()
    budget_working_days: Annotated[int, Field(ge=0, le=365)] = 1
    decisions: list[DecisionKind] | None = None
    next: Annotated[str, Field(pattern=IDENTIFIER)] | None = None
    system: str | None = None
    operation: Annotated[str, Field(pattern=IDENTIFIER)] | None = None

    @property
    def is_officer_step(self) -> bool:
        return self.kind in OFFICER_STEP_KINDS

    @property
    def allowed_decisions(self) -> list[DecisionKind]:
        return self.decisions or list(DecisionKind)


class ProcedureDefinition(_Strict):
    code: Annotated[str, Field(pattern=CATALOGUE_CODE)]
    name: Annotated[str, Field(min_length=1, max_length=300)]
    sector: Annotated[str, Field(min_length=1, max_length=100)]
    level: UnitLevel
    receiving_units: Annotated[list[Annotated[str, Field(pattern=AGENCY_CODE)]], Field(min_length=1)]
    legal_basis: list[str] = []
    time_limit_working_days: Annotated[int, Field(ge=0, le=365)]
    fee_vnd: Annotated[int, Field(ge=0)] = 0
    results: list[Annotated[str, Field(min_length=1)]] = []
    form: EForm
    steps: Annotated[list[Step], Field(min_length=1, max_length=200)]
    start: Annotated[str, Field(pattern=IDENTIFIER)] | None = None

    @property
    def start_step(self) -> str:
        return self.start or self.steps[0].id

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def content_hash(self) -> str:
        return hashlib.sha256(canonical_json(self).encode()).hexdigest()


class DefinitionError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class DefinitionInvalid(Exception):
    def __init__(self, errors: list[DefinitionError]):
        super().__init__(f"{len(errors)} error(s) in procedure definition")
        self.errors = errors


def canonical_json(definition: ProcedureDefinition) -> str:
    return json.dumps(
        definition.model_dump(mode="json", exclude_none=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def parse_definition(raw: Any) -> ProcedureDefinition:
    """Parse and check a definition; raise DefinitionInvalid listing every error with its path."""
    try:
        definition = ProcedureDefinition.model_validate(raw)
    except ValidationError as exc:
        raise DefinitionInvalid(
            [DefinitionError(loc=list(e["loc"]), msg=e["msg"], type=e["type"]) for e in exc.errors()]
        ) from None
    errors = _check_form(definition) + _check_steps(definition)
    if errors:
        raise DefinitionInvalid(errors)
    return definition


def _check_form(definition: ProcedureDefinition) -> list[DefinitionError]:
    errors: list[DefinitionError] = []

    def check(fields: list[FormField], path: list[str | int]) -> None:
        seen: set[str] = set()
        for i, f in enumerate(fields):
            here = [*path, i]
            if f.name in seen:
                errors.append(_err([*here, "name"], f"duplicate field name {f.name!r}", "duplicate"))
            seen.add(f.name)
            if f.type in (FieldType.choice, FieldType.multi_choice) and not f.options:
                errors.append(_err([*here, "options"], "a choice field needs options", "missing"))
            if f.integer and f.type != FieldType.number:
                errors.append(_err([*here, "integer"], "only a number field can be integer", "not_allowed"))
            if f.type == FieldType.group and not f.fields:
                errors.append(_err([*here, "fields"], "a group needs the fields of its items", "missing"))
            if f.type != FieldType.group and f.fields:
                errors.append(_err([*here, "fields"], "only a group has sub-fields", "not_allowed"))
            if f.minimum is not None and f.maximum is not None and f.minimum > f.maximum:
                errors.append(_err([*here, "minimum"], "minimum is greater than maximum", "contradiction"))
            if f.min_length is not None and f.max_length is not None and f.min_length > f.max_length:
                errors.append(_err([*here, "min_length"], "min_length is greater than max_length", "contradiction"))
            if f.min_items is not None and f.max_items is not None and f.min_items > f.max_items:
                errors.append(_err([*here, "min_items"], "min_items is greater than max_items", "contradiction"))
            if f.pattern is not None:
                try:
                    re.compile(f.pattern)
                except re.error as exc:
                    errors.append(_err([*here, "pattern"], f"not a valid regular expression: {exc}", "pattern"))
            if f.fields:
                check(f.fields, [*here, "fields"])

    check(definition.form.fields, ["form", "fields"])
    return errors


def _check_steps(definition: ProcedureDefinition) -> list[DefinitionError]:
    errors: list[DefinitionError] = []
    index: dict[str, int] = {}
    for i, step in enumerate(definition.steps):
        if step.id in index:
            errors.append(_err(["steps", i, "id"], f"duplicate step id {step.id!r}", "duplicate"))
        index.setdefault(step.id, i)

    for i, step in enumerate(definition.steps):
        here: list[str | int] = ["steps", i]
        if step.next is not None and step.next not in index:
            errors.append(_err([*here, "next"], f"transition to unknown step {step.next!r}", "unknown_step"))
        if step.is_officer_step:
            if step.role is None:
                errors.append(_err([*here, "role"], f"a {step.kind} step needs a role", "missing"))
        else:
            if step.decisions:
                errors.append(_err([*here, "decisions"], "only officer steps take decisions", "not_allowed"))
        if step.kind == StepKind.adapter:
            if step.system is None:
                errors.append(_err([*here, "system"], "an adapter step names its external system", "missing"))
            elif step.system not in KNOWN_SYSTEMS:
                errors.append(
                    _err(
                        [*here, "system"],
                        f"unknown external system {step.system!r}; known: {', '.join(sorted(KNOWN_SYSTEMS))}",
                        "unknown_system",
                    )
                )
            if step.operation is None:
                errors.append(_err([*here, "operation"], "an adapter step names its operation", "missing"))
        if step.unit.select == "fixed_unit" and step.unit.unit_code is None:
            errors.append(_err([*here, "unit", "unit_code"], "a fixed unit needs its unit_code", "missing"))
        if step.budget_working_days > definition.time_limit_working_days and definition.time_limit_working_days:
            errors.append(
                _err(
                    [*here, "budget_working_days"],
                    "a step's budget cannot exceed the procedure's legal time limit",
                    "budget",
                )
            )

    if definition.start is not None and definition.start not in index:
        errors.append(_err(["start"], f"start names unknown step {definition.start!r}", "unknown_step"))
        return errors
    if errors:
        return errors

    # Walk the graph from the start: every step must be reached, and the walk must end.
    reached: list[str] = []
    current: str | None = definition.start_step
    while current is not None and current not in reached:
        reached.append(current)
        current = definition.steps[index[current]].next
    if current is not None:
        closing = reached[-1]  # its `next` leads back into steps already walked
        errors.append(
            _err(
                ["steps", index[closing], "next"],
                f"the steps loop back to {current!r} with no way out",
                "loop",
            )
        )
    for i, step in enumerate(definition.steps):
        if step.id not in reached:
            errors.append(_err(["steps", i, "id"], f"step {step.id!r} cannot be reached from the start", "unreachable"))
    return errors


def _err(loc: list[str | int], msg: str, kind: str) -> DefinitionError:
    return DefinitionError(loc=loc, msg=msg, type=kind)
