"""Printable papers of a dossier, rendered with jinja2: the receipt (form 01) and the process-control slip
(form 06), built from the dossier's append-only event log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from readmodel.db import as_utc

_environment = Environment(
    loader=PackageLoader("forms", "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True
)
CHANNEL_NAMES = {"online": "Trực tuyến", "in_person": "Trực tiếp tại bộ phận một cửa", "postal": "Qua bưu chính"}
TIMELINESS_NAMES = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn", "in_progress": "Đang xử lý"}
Timeliness = Literal["early", "on_time", "late", "in_progress"]


@dataclass
class HandOff:
    """One hand-off of the dossier to a unit's officers for a step, and how it ended."""

    step_id: str
    step_name: str
    unit_code: str | None
    role: str | None
    handed_over_at: datetime
    due_at: datetime | None
    finished_at: datetime | None = None
    finished_by: str | None = None
    outcome: str | None = None

    def timeliness(self, now: datetime, zone: ZoneInfo) -> Timeliness:
        if self.due_at is None:
            return "on_time" if self.finished_at else "in_progress"
        if self.finished_at is None:
            return "late" if now > self.due_at else "in_progress"
        if self.finished_at > self.due_at:
            return "late"
        return "early" if self.finished_at.astimezone(zone).date() < self.due_at.astimezone(zone).date() else "on_time"


def hand_offs(events: list[Any], step_names: dict[str, str]) -> list[HandOff]:
    """Each officer step's start (unit, role, deadline) paired with the decision that ended it."""
    handoffs: list[HandOff] = []
    open_steps: dict[str, HandOff] = {}
    for event in events:
        detail = event.detail or {}
        if event.kind == "step_started" and "due_at" in detail:
            handoff = HandOff(
                step_id=event.step_id,
                step_name=step_names.get(event.step_id, event.step_id),
                unit_code=detail.get("unit_code"),
                role=detail.get("role"),
                handed_over_at=as_utc(event.at),
                due_at=datetime.fromisoformat(detail["due_at"]),
            )
            handoffs.append(handoff)
            open_steps[event.step_id] = handoff
        elif event.kind == "decision" and event.step_id in open_steps:
            handoff = open_steps.pop(event.step_id)
            handoff.finished_at = as_utc(event.at)
            handoff.finished_by = event.actor
            handoff.outcome = detail.get("decision")
            if "step_due_at" in detail:
                handoff.due_at = datetime.fromisoformat(detail["step_due_at"])
        elif event.kind == "escalated" and event.step_id in open_steps and detail.get("action") == "reassign":
            open_steps[event.step_id].outcome = "reassigned"
    return handoffs


@dataclass
class SupplementCycle:
    """One supplement request and its answer: when and by whom it was asked, at which step, what was missing, and when
    the applicant supplied it (None while awaited). Form 06 shows each cycle: Decision 766 counts the second as late."""

    number: int
    step_id: str | None
    step_name: str | None
    requested_at: datetime
    requested_by: str | None
    missing: list[str]
    reason: str | None = None
    supplied_at: datetime | None = None


def supplement_cycles(events: list[Any], step_names: dict[str, str]) -> list[SupplementCycle]:
    """Each supplement request in the event log, paired with the supplement that answered it."""
    cycles: list[SupplementCycle] = []
    for event in events:
        detail = event.detail or {}
        if event.kind == "supplement_requested":
            cycles.append(
                SupplementCycle(
                    number=len(cycles) + 1,
                    step_id=event.step_id,
                    step_name=step_names.get(event.step_id, event.step_id),
                    requested_at=as_utc(event.at),
                    requested_by=event.actor,
                    missing=list(detail.get("missing") or []),
                    reason=detail.get("reason"),
                )
            )
        elif event.kind == "supplemented" and cycles and cycles[-1].supplied_at is None:
            cycles[-1].supplied_at = as_utc(event.at)
    return cycles


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).strftime("%H:%M %d/%m/%Y") if moment else None


def render_receipt(
    receipt: Any, applicant: dict[str, Any], *, unit_names: dict[str, str], time_limit_working_days: int,
    received_by: str | None, zone: ZoneInfo,
) -> str:  # fmt: skip
    return _environment.get_template("receipt.html").render(
        receipt=receipt,
        applicant=applicant,
        receiving_unit_name=unit_names.get(receipt.receiving_unit, receipt.receiving_unit),
        handling_unit_name=unit_names.get(receipt.handling_unit, receipt.handling_unit),
        channel_name=CHANNEL_NAMES.get(receipt.channel, receipt.channel),
        time_limit_working_days=time_limit_working_days,
        received_local=_local(receipt.received_at, zone),
        received_by=received_by,
    )


def render_process_control_slip(
    *, dossier_code: str, procedure_name: str, appointment_date: Any, handoffs: list[HandOff], now: datetime,
    zone: ZoneInfo, supplements: list[SupplementCycle] | None = None,
) -> str:  # fmt: skip
    rows = [
        {
            **vars(h),
            "handed_over_at_local": _local(h.handed_over_at, zone),
            "due_at_local": _local(h.due_at, zone),
            "finished_at_local": _local(h.finished_at, zone),
            "timeliness": h.timeliness(now, zone),
        }
        for h in handoffs
    ]
    return _environment.get_template("process_control_slip.html").render(
        dossier_code=dossier_code,
        procedure_name=procedure_name,
        appointment_date=appointment_date,
        handoffs=rows,
        timeliness_names=TIMELINESS_NAMES,
        supplements=[
            {
                **vars(c),
                "requested_at_local": _local(c.requested_at, zone),
                "supplied_at_local": _local(c.supplied_at, zone),
            }
            for c in supplements or []
        ],
    )
