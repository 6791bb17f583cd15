"""Signals read and their senders asked after: what arrives straight through Temporal trusts nothing it claims.

A Signal's payloads are taken raw and decoded here, so one that does not decode is refused on the dossier with what was
received (an excerpt, bounded) instead of being dropped by the SDK with a log line, and one with no payload or several
is refused too instead of failing every workflow task of the dossier (its handler called with the wrong arguments). The officer a decision names is
looked up in the unit registry (a local activity): unknown, inactive, or without the step's role at its unit in their
own right or by a delegation in force, the decision is refused; otherwise it is kept in the capacities the registry
gives, never those the message claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.registry import OfficerStanding, RegistryActivities
    from domain.dossier import OfficerRef

from workflows.contract import NOT_YOUR_STEP
from workflows.dossier.retries import READ_MODEL_RETRY

M = TypeVar("M")

# What a Signal sent without any payload is shown as.
NO_PAYLOAD = RawValue(Payload())
# How much of an unreadable message the timeline keeps: enough to recognise it, never the whole of a large one.
EXCERPT_CHARACTERS = 300
REASON_CHARACTERS = 300
NAME_CHARACTERS = 80


class Unreadable(Exception):
    """A message that could not be decoded into what its Signal takes."""

    def __init__(self, reason: str, received: dict[str, object]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.received = received

    def summary(self) -> str:
        return f"it could not be read ({self.reason}); {described(self.received)}"


def described(received: dict[str, object]) -> str:
    """What was received, as the timeline tells it."""
    cut = "…" if received["truncated"] else ""
    return f"received {received['bytes']} bytes ({received['encoding'] or 'no encoding'}): {received['excerpt']}{cut}"


def read(payloads: Sequence[RawValue], model: type[M]) -> M:
    """The Signal's message, or Unreadable with what was received."""
    if len(payloads) != 1:
        first = payloads[0] if payloads else NO_PAYLOAD
        raise Unreadable(f"a Signal carries one message; received {len(payloads)} payloads", received(first.payload))
    payload = payloads[0]
    try:
        return workflow.payload_converter().from_payload(payload.payload, model)
    except Exception as failure:  # whatever the converter raises, the message is unreadable
        reason = " ".join(str(failure).split())[:REASON_CHARACTERS] or type(failure).__name__
        raise Unreadable(reason, received(payload.payload)) from None


def bounded_name(name: str) -> str:
    """A message's name as the timeline shows it: printable, and never long."""
    shown = "".join(c if c.isprintable() else "\ufffd" for c in name[:NAME_CHARACTERS])
    return shown + ("…" if len(name) > NAME_CHARACTERS else "")


def received(payload: Payload) -> dict[str, object]:
    """What arrived, bounded: its encoding, its size, and the start of it as text."""
    encoding = payload.metadata.get("encoding", b"").decode("utf-8", "replace")[:80]
    text = payload.data[: EXCERPT_CHARACTERS * 4].decode("utf-8", "replace")
    excerpt = "".join(c if c.isprintable() else "\ufffd" for c in text[:EXCERPT_CHARACTERS])
    truncated = len(text) > EXCERPT_CHARACTERS or len(payload.data) > EXCERPT_CHARACTERS * 4
    return {"encoding": encoding, "bytes": len(payload.data), "excerpt": excerpt, "truncated": truncated}


async def standing(officer_id: str) -> OfficerStanding:
    """What the unit registry says of the officer today (a local activity: its answer is kept in the history)."""
    return await workflow.execute_local_activity_method(
        RegistryActivities.officer_standing,
        officer_id,
        start_to_close_timeout=timedelta(seconds=10),
        retry_policy=READ_MODEL_RETRY,
    )


def registered(claimed: OfficerRef, standing: OfficerStanding) -> OfficerRef:
    """The officer as the registry gives them, every capacity they hold today; refused when unknown or inactive."""
    if not standing.registered:
        raise ApplicationError(f"officer {claimed.officer_id!r} is not in the unit registry", type=NOT_YOUR_STEP)
    if not standing.active or not standing.capacities:
        state = "inactive in" if not standing.active else "without a step role in"
        raise ApplicationError(f"officer {claimed.officer_id!r} is {state} the unit registry", type=NOT_YOUR_STEP)
    first = standing.capacities[0]
    return OfficerRef(
        officer_id=claimed.officer_id,
        role=first.role,
        unit_code=first.unit_code,
        on_behalf_of=first.on_behalf_of,
        capacities=standing.capacities,
    )
