"""The procedure definition language: catalogue facts, dossier components, an eForm and a step graph.

A definition is parsed by pydantic (shape, one JSON Schema for editors) and then checked as a
whole — graph, expressions, budgets, contradictory rules — so an administrator learns every
problem, each with its path, before any citizen meets the procedure (`domain.definition_checks`
does both). Conditions and computed amounts use the one expression language of `domain.expressions`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from domain import expressions

IDENTIFIER = r"^[a-z][a-z0-9_]{0,62}$"
AGENCY_CODE = r"^[A-Z0-9]{1,10}(\.[A-Z0-9]{1,10}){0,6}$"
CATALOGUE_CODE = r"^\d\.\d{6}(\.[A-Z0-9]{1,10})?$"

Identifier = Annotated[str, Field(pattern=IDENTIFIER)]
AgencyCode = Annotated[str, Field(pattern=AGENCY_CODE)]
ExpressionText = Annotated[str, Field(min_length=1, max_length=expressions.MAX_LENGTH)]


class UnitLevel(StrEnum):
    ministry = "ministry"
    province = "province"
    ward = "ward"


class Role(StrEnum):
    reception = "reception"
    specialist = "specialist"
    leader = "leader"


class ApplicantType(StrEnum):
    citizen = "citizen"
    business = "business"


class OnlineLevel(StrEnum):
    full = "full"
    partial = "partial"


class StepKind(StrEnum):
    reception = "reception"  # one-stop counter checks the dossier is complete and valid
    review = "review"  # a specialist examines the substance
    approval = "approval"  # a leader approves (and signs)
    adapter = "adapter"  # a call to an external agency system
    fee = "fee"  # the applicant pays a financial obligation (portal status 6)
    parallel = "parallel"  # branches that run at the same time; all, or those whose `when` holds
    notification = "notification"  # a message to the applicant (SMS, e-mail, VNeID inbox)
    child = "child"  # an interconnected procedure run as its own dossier in another agency
    result = "result"  # the result is issued electronically
    hand_back = "hand_back"  # the result waits at the counter until an officer hands it over (status 10 then)


OFFICER_STEP_KINDS = frozenset({StepKind.reception, StepKind.review, StepKind.approval, StepKind.hand_back})
CALLING_STEP_KINDS = frozenset({StepKind.adapter, StepKind.notification})


class DecisionKind(StrEnum):
    approve = "approve"
    reject = "reject"
    request_supplement = "request_supplement"
    return_ = "return"  # send the dossier back to a named earlier step
    hand_over = "hand_over"  # the result is handed to the applicant (or whom they sent) at the counter


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
    address = "address"
    attachment = "attachment"
    group = "group"


class PrefillSource(StrEnum):
    population = "population"  # national population database, by 12-digit citizen ID


# The external systems adapters know how to reach, and the operations each offers.
KNOWN_SYSTEMS = frozenset(
    {
        "civil_status",
        "residence",
        "social_insurance",
        "business_registration",
        "tax",
        "land_registry",
        "population",
        "notification",
    }
)
NOTIFICATION_CHANNELS = frozenset({"sms", "email", "vneid"})
# Attributes the population database returns, usable as prefill attributes.
POPULATION_ATTRIBUTES = frozenset({"full_name", "date_of_birth", "sex", "permanent_address"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- catalogue


class Fee(_Strict):
    """A fixed amount, or one computed from form values (e.g. `copies * 8000`)."""

    amount_vnd: Annotated[int, Field(ge=0, le=10_000_000_000)] | None = None
    expression: ExpressionText | None = None
    description: str | None = None
    # Paid through the payment platform (workflow revision 5): an unpaid request expires this many hours after it
    # was issued, and the dossier stops for non-payment. Unset: the request stays open as long as the dossier does.
    pay_within_hours: Annotated[float, Field(gt=0, le=24 * 90)] | None = None


class ResultDocument(_Strict):
    id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=300)]
    template: Annotated[str, Field(max_length=200)] | None = None  # jinja2 template name, rendered on issue
    branch: Identifier | None = None  # issued only when this parallel branch ran and was not refused


class DossierComponent(_Strict):
    """A document the dossier must (or may) carry, uploaded as an attachment field of the eForm."""

    id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=300)]
    required: bool = True
    accepted_types: Annotated[list[Annotated[str, Field(pattern=r"^[a-z]+/[a-z0-9.+-]+$")]], Field(min_length=1)] = [
        "application/pdf",
        "image/jpeg",
        "image/png",
    ]
    max_size_mb: Annotated[float, Field(gt=0, le=100)] = 10


# ---------------------------------------------------------------------------------- eForm


class Prefill(_Strict):
    """Fill this field from a national database, keyed by another field of the form."""

    source: PrefillSource
    key_field: Identifier  # the citizen-ID field the lookup uses
    attribute: Identifier  # what the source returns, e.g. full_name


# As authors write them: values, or values with what people read (the model keeps the labels in option_labels).
_OPTIONS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "array",
            "items": {
                "anyOf": [
                    {"type": "string", "minLength": 1, "maxLength": 100},
                    {
                        "type": "object",
                        "properties": {
                            "value": {"type": "string", "minLength": 1, "maxLength": 100},
                            "label": {"type": "string", "minLength": 1, "maxLength": 200},
                            "labels": {
                                "type": "object",
                                "properties": {"en": {"type": "string", "minLength": 1, "maxLength": 200}},
                                "additionalProperties": False,
                            },
                        },
                        "required": ["value"],
                        "additionalProperties": False,
                    },
                ]
            },
        },
        {"type": "null"},
    ],
    "default": None,
    "title": "Options",
}


class OptionLabel(_Strict):
    """What people read for a choice's value: in Vietnamese, and optionally in English."""

    vi: Annotated[str, Field(min_length=1, max_length=200)]
    en: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class FormField(_Strict):
    name: Identifier
    label: Annotated[str, Field(min_length=1, max_length=200)]
    type: FieldType
    required: bool = True
    help: Annotated[str, Field(max_length=500)] | None = None
    pattern: Annotated[str, Field(max_length=300)] | None = None
    min_length: Annotated[int, Field(ge=0)] | None = None
    max_length: Annotated[int, Field(ge=1)] | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False  # a number field that takes whole numbers only (copies, employees)
    # A choice's values; written either as values alone (the value is what people read) or as
    # `{value, label, labels: {en: …}}`, whose labels go to option_labels.
    options: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]] | None, WithJsonSchema(_OPTIONS_SCHEMA)
    ] = None
    option_labels: dict[str, OptionLabel] | None = None
    fields: list[FormField] | None = None  # the fields of one item of a repeating group
    min_items: Annotated[int, Field(ge=0)] | None = None
    max_items: Annotated[int, Field(ge=1)] | None = None
    component: Identifier | None = None  # for an attachment: the dossier component it carries
    visible_when: ExpressionText | None = None  # shown (and accepted) only when this holds
    required_when: ExpressionText | None = None  # required only when this holds
    prefill: Prefill | None = None

    @model_validator(mode="before")
    @classmethod
    def _labelled_options(cls, data: Any) -> Any:
        """`options: [{value: male, label: Nam, labels: {en: Male}}]` → the values in `options`, the labels in
        `option_labels`; plain values stay as they are (and so do the definitions that use them)."""
        if not isinstance(data, dict) or not isinstance(data.get("options"), list):
            return data
        if not any(isinstance(option, dict) for option in data["options"]):
            return data
        values: list[Any] = []
        labels: dict[str, Any] = dict(data.get("option_labels") or {})
        for option in data["options"]:
            if not isinstance(option, dict):
                values.append(option)
                continue
            value = option.get("value")
            values.append(value)
            extra = set(option) - {"value", "label", "labels"}
            if extra:
                raise ValueError(f"an option takes value, label and labels, not {', '.join(sorted(map(str, extra)))}")
            if "labels" in option and "label" not in option:
                raise ValueError("an option's labels go with its label (in Vietnamese)")
            if isinstance(value, str) and "label" in option:
                translated = option.get("labels") or {}
                labels[value] = {"vi": option["label"], **(translated if isinstance(translated, dict) else {})}
        return {**data, "options": values, "option_labels": labels or None}

    @model_validator(mode="after")
    def _labels_of_its_options(self) -> FormField:
        unknown = set(self.option_labels or {}) - set(self.options or [])
        if unknown:
            raise ValueError(f"labels for values that are not options: {', '.join(sorted(unknown))}")
        return self

    def option_label(self, value: str, language: str = "vi") -> str:
        """What people read for one of the choice's values, in `language` where the definition says it."""
        label = (self.option_labels or {}).get(value)
        if label is None:
            return value
        return (label.en if language == "en" else None) or label.vi


class EForm(_Strict):
    fields: Annotated[list[FormField], Field(min_length=1, max_length=300)]

    def walk(self) -> Iterator[tuple[list[str | int], FormField]]:
        """Every field with its path in the definition, group items included."""

        def each(fields: list[FormField], path: list[str | int]) -> Iterator[tuple[list[str | int], FormField]]:
            for i, f in enumerate(fields):
                yield [*path, i], f
                if f.fields:
                    yield from each(f.fields, [*path, i, "fields"])

        yield from each(self.fields, ["form", "fields"])

    @property
    def field_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)


# ---------------------------------------------------------------------------------- steps


class UnitSelection(StrEnum):
    receiving_unit = "receiving_unit"  # the unit that received the dossier (any counter, any boundary)
    competent_unit = "competent_unit"  # the unit competent for the applicant's address at the step's level
    by_sector = "by_sector"  # at that level in the address's area, the unit whose sectors include the procedure's
    fixed_unit = "fixed_unit"  # one named unit, e.g. the provincial Land Registration Office


class UnitCase(_Strict):
    """One case of `level_when`: when `when` holds over the form (no `when`: always), the step is handled at
    `level` (by the assignment's `select`), or by the unit `unit_code`."""

    when: ExpressionText | None = None
    level: UnitLevel | None = None
    unit_code: AgencyCode | None = None


class UnitAssignment(_Strict):
    """How the unit that acts on a step is chosen."""

    select: UnitSelection = UnitSelection.receiving_unit
    unit_code: AgencyCode | None = None  # for fixed_unit
    address_field: Identifier | None = None  # for competent_unit and by_sector: the address field that decides
    level: UnitLevel | None = None  # for competent_unit and by_sector: the level (default: the step's unit_level)
    # The level (or the unit) chosen by the form: the first case whose `when` holds; none holding: `level`.
    level_when: Annotated[list[UnitCase], Field(min_length=1, max_length=20)] | None = None


class Branch(_Strict):
    id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200)]
    when: ExpressionText | None = None  # the branch runs only when this holds
    steps: Annotated[list[Step], Field(min_length=1, max_length=100)]
    on_refusal: Literal["stop", "continue"] = "stop"  # a refused branch stops the dossier, or leaves a partial result


class TimeLimitCase(_Strict):
    """One case of `time_limit_when`: when `when` holds over the form and the branches the applicant chose, the
    dossier's time limit is `working_days`, and the steps named in `budgets` get those budgets instead."""

    when: ExpressionText
    working_days: Annotated[int, Field(ge=0, le=365)]
    budgets: dict[Identifier, Annotated[int, Field(ge=0, le=365)]] = {}


class Escalation(_Strict):
    """What happens when an officer step is overdue: tell the unit's leader, or hand the step over."""

    action: Literal["notify_leader", "reassign"]
    role: Role | None = None  # reassign: the role that takes the step over (default: leader)
    unit_code: AgencyCode | None = None  # reassign: the unit that takes it over (default: the same unit)


class Step(_Strict):
    id: Identifier
    kind: StepKind
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role | None = None
    unit_level: UnitLevel = UnitLevel.ward
    unit: UnitAssignment = UnitAssignment()
    budget_working_days: Annotated[int, Field(ge=0, le=365)] = 0
    skip_when: ExpressionText | None = None
    next: Identifier | None = None  # where approval / success leads; none: the end of this path
    # officer steps
    decisions: list[DecisionKind] | None = None
    return_to: Identifier | None = None
    on_overdue: Escalation | None = None
    # adapter and notification steps
    system: Identifier | None = None
    operation: Identifier | None = None
    on_refusal: Literal["stop", "continue"] | None = None  # a business refusal stops the dossier, or is noted
    # An adapter step's answer: in the call's own response, or later, by the agency calling back (tax, police); the
    # wait is the agency's, and past `answer_within_hours` the unit's leader is told (the wait goes on).
    answer: Literal["response", "callback"] = "response"
    answer_within_hours: Annotated[float, Field(gt=0, le=2160)] | None = None
    channel: Literal["sms", "email", "vneid"] | None = None
    message: Annotated[str, Field(max_length=1000)] | None = None
    # fee steps
    fee: Fee | None = None
    # parallel steps
    branches: Annotated[list[Branch], Field(min_length=1, max_length=20)] | None = None
    # result steps
    documents: list[Identifier] | None = None
    # child steps: the procedure the other agency runs, and its form values computed from this dossier
    procedure: Annotated[str, Field(pattern=CATALOGUE_CODE)] | None = None
    inputs: dict[Identifier, ExpressionText] | None = None

    @model_validator(mode="after")
    def _answered_later_only_by_agencies(self) -> Step:
        if self.answer == "callback" and self.kind != StepKind.adapter:
            raise ValueError("only an adapter step is answered by a callback")
        if self.answer_within_hours is not None and self.answer != "callback":
            raise ValueError("answer_within_hours goes with answer: callback")
        return self

    @property
    def is_officer_step(self) -> bool:
        return self.kind in OFFICER_STEP_KINDS

    @property
    def allowed_decisions(self) -> list[DecisionKind]:
        if self.kind == StepKind.hand_back:
            return [DecisionKind.hand_over]
        if self.decisions:
            return self.decisions
        allowed = [DecisionKind.approve, DecisionKind.reject, DecisionKind.request_supplement]
        return [*allowed, DecisionKind.return_] if self.return_to else allowed


class ProcedureDefinition(_Strict):
    code: Annotated[str, Field(pattern=CATALOGUE_CODE)]
    name: Annotated[str, Field(min_length=1, max_length=300)]
    sector: Annotated[str, Field(min_length=1, max_length=100)]
    applicant_types: Annotated[list[ApplicantType], Field(min_length=1)] = [ApplicantType.citizen]
    level: UnitLevel
    competent_levels: list[UnitLevel] = []
    receiving_units: Annotated[list[AgencyCode], Field(min_length=1)]
    legal_basis: list[Annotated[str, Field(max_length=300)]] = []
    online_level: OnlineLevel = OnlineLevel.full
    time_limit_working_days: Annotated[int, Field(ge=0, le=365)]
    extended_time_limit_working_days: Annotated[int, Field(ge=0, le=365)] | None = None
    # The law's "within 5 working days, 10 where …": the first case that holds gives the dossier's time limit.
    time_limit_when: Annotated[list[TimeLimitCase], Field(min_length=1, max_length=20)] | None = None
    fee: Fee = Fee(amount_vnd=0)
    early_warning_share: Annotated[float, Field(ge=0.5, le=0.95)] = 0.8  # share of a step's budget that warns
    results: list[ResultDocument] = []
    components: list[DossierComponent] = []
    form: EForm
    steps: Annotated[list[Step], Field(min_length=1, max_length=200)]
    start: Identifier | None = None
    # A procedure that exists only as the child of another dossier: no one submits it on its own.
    interconnection_only: bool | None = None
    # Decision 766: whose capacity issues the apology letter (form 04), and whose extends the time limit; the
    # unit's leader where the definition names no one. Each is done once per dossier.
    apology_role: Role | None = None
    extension_role: Role | None = None

    @property
    def start_step(self) -> str:
        return self.start or self.steps[0].id

    @property
    def apologising_role(self) -> Role:
        return self.apology_role or Role.leader

    @property
    def extending_role(self) -> Role:
        return self.extension_role or Role.leader

    def all_steps(self) -> Iterator[tuple[list[str | int], Step]]:
        """Every step with its path, inside parallel branches too."""

        def each(steps: list[Step], path: list[str | int]) -> Iterator[tuple[list[str | int], Step]]:
            for i, step in enumerate(steps):
                yield [*path, i], step
                for b, branch in enumerate(step.branches or []):
                    yield from each(branch.steps, [*path, i, "branches", b, "steps"])

        yield from each(self.steps, ["steps"])

    def step(self, step_id: str) -> Step:
        for _, step in self.all_steps():
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def content_hash(self) -> str:
        return hashlib.sha256(canonical_json(self).encode()).hexdigest()


Branch.model_rebuild()


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


def definition_json_schema() -> dict[str, Any]:
    """The JSON Schema of the definition document, for editors."""
    return ProcedureDefinition.model_json_schema()


def is_valid_regex(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None
