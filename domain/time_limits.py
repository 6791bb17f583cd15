"""A dossier's time limit as the law writes it: one number, or "5 working days, 10 where …" chosen by the form and by
the branches the applicant chose (`time_limit_when`), each case with the step budgets that go with it.

It is decided once, at submission, from the pinned definition and the submitted form: the receipt's appointment, the
steps' deadlines and the statistics (which measure against the appointment) then all follow the same number. The
checks here make sure every case's steps fit within that case's limit before a definition is deployed.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain import expressions
from domain.definition import DefinitionError, ProcedureDefinition, Step
from domain.definition_errors import check_expression, closest, problem
from domain.wording import mark

# In a `time_limit_when` case, the ids of the parallel branches that will run for this dossier.
BRANCHES = "branches"

Loc = list[str | int]

_OVER_LIMIT = mark("đường thông thường cần {days} ngày làm việc theo thời hạn các bước, quá thời hạn luật định {limit}")
_OVER_CEILING = mark("tính cả các bước có điều kiện, đường cần {days} ngày làm việc, quá thời hạn gia hạn {limit}")


@dataclass(frozen=True)
class DossierTimeLimit:
    working_days: int
    budgets: Mapping[str, int] = field(default_factory=dict)  # the steps whose budget this case sets
    case: int | None = None  # the case of `time_limit_when` that holds; None: the procedure's usual limit


def chosen_branches(definition: ProcedureDefinition, form: Mapping[str, Any]) -> list[str]:
    """The parallel branches the form chooses: those without a condition and those whose condition holds."""
    return [
        branch.id
        for _, step in definition.all_steps()
        for branch in step.branches or []
        if branch.when is None or expressions.parse(branch.when).holds(form)
    ]


def time_limit_for(definition: ProcedureDefinition, form: Mapping[str, Any]) -> DossierTimeLimit:
    if not definition.time_limit_when:
        return DossierTimeLimit(definition.time_limit_working_days)
    scope = {**form, BRANCHES: chosen_branches(definition, form)}
    for i, case in enumerate(definition.time_limit_when):
        if expressions.parse(case.when).holds(scope):
            return DossierTimeLimit(case.working_days, dict(case.budgets), i)
    return DossierTimeLimit(definition.time_limit_working_days)


def longest_budget(
    steps: list[Step],
    start: str,
    *,
    include_conditional: bool,
    budgets: Mapping[str, int] | None = None,
    taken: Collection[str] = (),
) -> int:
    """Working days along the path of `next` transitions; a parallel step costs its slowest branch (conditional
    branches only with `include_conditional`, or when `taken` names them)."""
    budgets = budgets or {}
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
        total += budgets.get(step.id, step.budget_working_days)
        branches = [b for b in step.branches or [] if include_conditional or b.when is None or b.id in taken]
        total += max(
            (
                longest_budget(
                    b.steps, b.steps[0].id, include_conditional=include_conditional, budgets=budgets, taken=taken
                )
                for b in branches
            ),
            default=0,
        )
    return total


def check_time_limits(d: ProcedureDefinition, errors: list[DefinitionError], *, graph_sound: bool) -> None:
    """The cases of `time_limit_when` read only what submission knows, name real steps and branches, and every case's
    usual path fits its own limit (conditional steps: the longest limit of any case, or the extended limit)."""
    cases = d.time_limit_when or []
    form_names = d.form.field_names
    step_ids = {step.id for _, step in d.all_steps()}
    branches = [branch for _, step in d.all_steps() for branch in step.branches or []]
    if cases and BRANCHES in form_names:
        errors.append(problem(["time_limit_when"], mark("tờ khai có trường tên '{name}', tên dành cho các nhánh được chọn"),
                              "duplicate", name=BRANCHES))  # fmt: skip
    # A branch chosen by an agency's answer is not known at submission, so no time limit can follow it.
    chosen_later = sorted(b.id for b in branches if b.when is not None and _names(b.when) - form_names)
    for i, case in enumerate(cases):
        loc: Loc = ["time_limit_when", i]
        check_expression(errors, [*loc, "when"], case.when, form_names | {BRANCHES}, "time_limit")
        if BRANCHES in _names(case.when):
            tested = _branch_literals(case.when)
            for named in sorted(tested):
                if named not in {b.id for b in branches}:
                    errors.append(problem([*loc, "when"], mark("không bước song song nào có nhánh '{id}'"),
                                          "unknown_name", id=named,
                                          suggestion=closest(named, (b.id for b in branches))))  # fmt: skip
            # A case that reads `branches` other than by testing named branches may depend on any of them.
            unknowable = (
                [b for b in chosen_later if b in tested] if tested and _only_tests_names(case.when) else chosen_later
            )
            if unknowable:
                errors.append(problem([*loc, "when"],
                                      mark("nhánh {ids} được chọn theo kết quả của một bước, chưa biết khi nộp hồ sơ"),
                                      "not_allowed", ids=", ".join(unknowable)))  # fmt: skip
        for step_id in case.budgets:
            if step_id not in step_ids:
                errors.append(problem([*loc, "budgets", step_id], mark("không có bước '{id}'"), "unknown_step",
                                      id=step_id, suggestion=closest(step_id, step_ids)))  # fmt: skip
    if not graph_sound:
        return
    ceiling = max([d.extended_time_limit_working_days or d.time_limit_working_days, *(c.working_days for c in cases)])
    limits: list[tuple[Loc, int, Mapping[str, int], set[str]]] = [(["steps"], d.time_limit_working_days, {}, set())]
    limits += [
        (["time_limit_when", i, "working_days"], case.working_days, case.budgets, _branch_literals(case.when, True))
        for i, case in enumerate(cases)
    ]
    for loc, limit, budgets, taken in limits:
        # A case's usual path takes the branches the case holds chosen ('x' in branches).
        usual = longest_budget(d.steps, d.start_step, include_conditional=False, budgets=budgets, taken=taken)
        longest = longest_budget(d.steps, d.start_step, include_conditional=True, budgets=budgets)
        if usual > limit:
            errors.append(problem(loc, _OVER_LIMIT, "budget", days=usual, limit=limit))
        elif longest > ceiling:
            errors.append(problem(loc, _OVER_CEILING, "budget", days=longest, limit=ceiling))


def _names(text: str) -> frozenset[str]:
    try:
        return expressions.parse(text).names
    except expressions.ExpressionError:
        return frozenset()


def _branch_literals(text: str, chosen_only: bool = False) -> set[str]:
    """The branch ids a condition tests, as in `'land' in branches` (with `chosen_only`, not `'land' not in …`)."""
    try:
        tree = expressions.parse(text).tree
    except expressions.ExpressionError:
        return set()
    named: set[str] = set()
    for node in ast.walk(tree):
        tests = (ast.In,) if chosen_only else (ast.In, ast.NotIn)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], tests):
            left, right = node.left, node.comparators[0]
            if isinstance(right, ast.Name) and right.id == BRANCHES and isinstance(left, ast.Constant):
                if isinstance(left.value, str):
                    named.add(left.value)
    return named


def _only_tests_names(text: str) -> bool:
    """Whether a condition reads `branches` only to test named branches (`'land' in branches`)."""
    tree = expressions.parse(text).tree
    tested = {
        id(node.comparators[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))
        and isinstance(node.left, ast.Constant) and isinstance(node.comparators[0], ast.Name)
    }  # fmt: skip
    return all(id(node) in tested for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == BRANCHES)
