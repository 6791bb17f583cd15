"""Demo officers for the development stack: one per role and unit the shipped procedures name, so that a fresh
`make run` has someone to receive, review and approve every shipped procedure's dossiers (development only).

Ids follow the suite's `role@unit` (tests/support.py `officer()`), so they are predictable: `reception@H29.50.05.13`
receives at the ward of Sài Gòn, `leader@H29.CA` approves at the city police. The national SSO's demo officers
(devstack/oidc_realms.py DEMO_OFFICERS) are among them, so that signing in through Keycloak reaches an inbox.
They are registered through the API as the bootstrap administrator, and only when missing: a second start, or an
officer an administrator has changed since, is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from devstack.oidc_realms import DEMO_OFFICERS
from devstack.stack import StackError, procedure_files
from domain.definition import ProcedureDefinition, UnitSelection


@dataclass(frozen=True, order=True)
class DemoOfficer:
    unit_code: str
    role: str
    full_name: str = ""

    @property
    def officer_id(self) -> str:
        return f"{self.role}@{self.unit_code}"


def units_and_roles(definition: ProcedureDefinition) -> set[tuple[str, str]]:
    """(unit, role) of every officer step: a fixed unit's, else each receiving unit's (a unit competent for the
    applicant's address is not known before a dossier names one); overdue steps handed over, too."""
    held: set[tuple[str, str]] = set()
    for _, step in definition.all_steps():
        if step.role is None:
            continue
        if step.unit.select == UnitSelection.fixed_unit and step.unit.unit_code:
            units = [step.unit.unit_code]
        elif step.unit.select == UnitSelection.receiving_unit:
            units = list(definition.receiving_units)
        else:
            units = []
        held |= {(unit, step.role.value) for unit in units}
        escalation = step.on_overdue
        if escalation and escalation.action == "reassign":
            role = escalation.role.value if escalation.role else "leader"
            held |= {(escalation.unit_code or unit, role) for unit in units}
    return held


def demo_officers(folder: Path) -> list[DemoOfficer]:
    """The shipped procedures' officers, and the national SSO's demo officers (their ids are `role@unit` too)."""
    officers = {
        (unit, role): DemoOfficer(unit, role)
        for path in procedure_files(folder)
        for unit, role in units_and_roles(ProcedureDefinition.model_validate(yaml.safe_load(path.read_text("utf-8"))))
    }
    for person in DEMO_OFFICERS:
        role, _, unit = person.officer_id.partition("@")
        if unit:
            officers[unit, role] = DemoOfficer(unit, role, f"{person.family_name} {person.given_name}")
    return sorted(officers.values())


def seed_demo_officers(
    api_url: str, folder: Path, token: str, leave_out: frozenset[str] = frozenset()
) -> tuple[list[DemoOfficer], list[DemoOfficer]]:
    """Register the demo officers missing from the registry (PUT /officers/{id}), but those whose ids `leave_out`
    names; answer (the officers seeded, those registered now)."""
    officers = [officer for officer in demo_officers(folder) if officer.officer_id not in leave_out]
    registered = []
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for officer in officers:
            found = client.get(f"/officers/{officer.officer_id}")
            if found.status_code == 200:
                continue
            if found.status_code != 404:
                raise StackError(f"reading officer {officer.officer_id} failed: {found.status_code} {found.text}")
            body = {
                "full_name": officer.full_name or officer.officer_id,
                "unit_code": officer.unit_code,
                "roles": [officer.role],
            }
            answer = client.put(f"/officers/{officer.officer_id}", json=body)
            if answer.status_code not in (200, 201):
                raise StackError(f"registering officer {officer.officer_id} failed: {answer.status_code} {answer.text}")
            registered.append(officer)
    return officers, registered


def describe(officers: list[DemoOfficer]) -> str:
    """The officers by unit, one line each: `H29.CA  specialist leader`."""
    by_unit: dict[str, list[str]] = {}
    for officer in officers:
        by_unit.setdefault(officer.unit_code, []).append(officer.role)
    order = ("reception", "specialist", "leader", "administrator")
    return "\n".join(
        f"{unit:<14} {' '.join(sorted(roles, key=lambda r: order.index(r) if r in order else len(order)))}"
        for unit, roles in sorted(by_unit.items())
    )
