"""Decision 766/QĐ-TTg in the officers' hands: an officer is warned before an action that counts the dossier as late,
and takes it only by confirming (`confirm_late`); the apology letter and the extension are for the role the definition
names (the leader by default), once per dossier. The workflow checks roles and "once" again for an Update sent
straight to Temporal (workflows/dossier/mailbox.py); the warnings are the API's and the pages'."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status

from domain.definition import DecisionKind, ProcedureDefinition, Role
from domain.wording import mark
from readmodel.organisation import OfficerProfile
from readmodel.tables import DossierRow

# What the officer is told before the action, in Vietnamese (the pages translate it); the API says it in English.
SECOND_SUPPLEMENT = mark(
    "Đây là lần yêu cầu bổ sung thứ hai trở lên: theo Quyết định 766/QĐ-TTg, hồ sơ sẽ bị tính là trễ hạn."
)
MISSED_WITHOUT_APOLOGY = mark(
    "Hồ sơ đã quá ngày hẹn trả kết quả mà không có thư xin lỗi: theo Quyết định 766/QĐ-TTg, hồ sơ bị tính là trễ hạn."
)
_CONSEQUENCES = {
    SECOND_SUPPLEMENT: "a second (or later) supplement request counts this dossier as late (Decision 766)",
    MISSED_WITHOUT_APOLOGY: "the appointment was missed without an apology letter: acting now, the dossier counts "
    "as late (Decision 766)",
}


class LateConfirmationRequired(HTTPException):
    """409 until the officer confirms: the detail names the consequence, `warning` says it to the pages."""

    def __init__(self, warning: str) -> None:
        super().__init__(
            status.HTTP_409_CONFLICT,
            [{"loc": ["body", "confirm_late"], "type": "confirm_late",
              "msg": f"{_CONSEQUENCES[warning]}; send confirm_late: true to confirm"}],
        )  # fmt: skip
        self.warning = warning


def late_warnings(row: DossierRow, decision: str | None = None) -> list[str]:
    """What an officer's decision on this dossier would count as late (every decision when `decision` is None)."""
    warnings = []
    if (decision in (None, DecisionKind.request_supplement.value)) and (row.supplement_count or 0) >= 1:
        warnings.append(SECOND_SUPPLEMENT)
    if row.overdue_without_apology and row.status not in (3, 7, 8, 10):
        warnings.append(MISSED_WITHOUT_APOLOGY)
    return warnings


def require_confirmation(row: DossierRow, decision: str, confirmed: bool) -> None:
    warnings = late_warnings(row, decision)
    if warnings and not confirmed:
        raise LateConfirmationRequired(warnings[0])


def _units(row: DossierRow) -> set[str]:
    """Where an officer acts on the dossier: its receiving and handling units and those of its steps under way."""
    steps: list[dict[str, Any]] = row.active_steps or []
    return {
        row.receiving_unit,
        row.handling_unit or row.receiving_unit,
        *(s["unit_code"] for s in steps if s.get("unit_code")),
    }


def require_role(officer: OfficerProfile, row: DossierRow, role: Role, what: str) -> None:
    if not any(officer.holds(role.value, unit) for unit in _units(row)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"only a {role.value} officer of {', '.join(sorted(_units(row)))} may {what} (the procedure's definition "
            "says who, Decision 766)",
        )


def require_apology_allowed(officer: OfficerProfile, row: DossierRow, definition: ProcedureDefinition) -> None:
    if row.apology:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "an apology letter was already issued for this dossier; a dossier apologises once (Decision 766)",
        )
    require_role(officer, row, definition.apologising_role, "issue the apology letter")


def require_extension_allowed(officer: OfficerProfile, row: DossierRow, definition: ProcedureDefinition) -> None:
    if row.extended:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "the time limit was already extended; a dossier is extended once (Decision 766)"
        )
    require_role(officer, row, definition.extending_role, "extend the time limit")
