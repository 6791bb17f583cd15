"""Which procedures a definition document starts as children, and so the order to deploy several documents in. Read
leniently: a document may be invalid, and deploying it is what names its errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar


def child_procedure_codes(raw: Any) -> set[str]:
    """The procedures a definition document's child steps start, read leniently (the document may be invalid:
    the API names its errors when it is deployed)."""
    codes: set[str] = set()

    def walk(steps: Any) -> None:
        for step in steps if isinstance(steps, list) else []:
            if not isinstance(step, dict):
                continue
            if isinstance(step.get("procedure"), str):
                codes.add(step["procedure"])
            for branch in step.get("branches") or []:
                if isinstance(branch, dict):
                    walk(branch.get("steps"))

    if isinstance(raw, dict):
        walk(raw.get("steps"))
    return codes


T = TypeVar("T")


def deployment_order(documents: Sequence[tuple[T, Any]]) -> list[T]:
    """The order to deploy definition documents in: every procedure after the child procedures it starts
    (a parent whose child procedure is unknown is refused), otherwise in the order given.

    `documents` pairs each item (a path, say) with its parsed document. Children that are not among the
    documents are expected to be deployed already. Documents that start each other keep the order given
    (deploying them names the loop)."""
    code_of = [raw.get("code") if isinstance(raw, dict) else None for _, raw in documents]
    pending = [
        (i, child_procedure_codes(raw) & {c for j, c in enumerate(code_of) if j != i and c})
        for i, (_, raw) in enumerate(documents)
    ]
    ordered: list[int] = []
    deployed: set[str] = set()
    while pending:
        ready = next(((i, needs) for i, needs in pending if needs <= deployed), None) or pending[0]
        pending.remove(ready)
        ordered.append(ready[0])
        if code_of[ready[0]]:
            deployed.add(code_of[ready[0]])  # type: ignore[arg-type]
    return [documents[i][0] for i in ordered]
