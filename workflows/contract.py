"""How other processes speak to a dossier's workflow: its type, its messages, its query, its search attributes and
the refusals it answers with.

The API and the tools depend on this contract, not on the workflow class: importing the class would bring in the
interpreter and every activity module behind it. The messages' input and output models live in `domain.dossier`.
"""

from __future__ import annotations

from enum import StrEnum

from temporalio.common import SearchAttributeKey

WORKFLOW_TYPE = "DossierWorkflow"


class DossierUpdate(StrEnum):
    """The Updates a dossier takes (validated, answered once their effect is in the read model)."""

    decide = "decide"
    supplement = "supplement"
    pay = "pay"
    apologize = "apologize"
    extend = "extend"
    withdraw = "withdraw"
    agency_answer = "agency_answer"


class DossierSignal(StrEnum):
    """The Signal twins of Updates, for integrations: refused in the timeline when they cannot apply."""

    decide = "decide"
    supplement = "supplement"
    pay = "pay"
    agency_answer = "agency_answer"


DETAIL_QUERY = "detail"

PROCEDURE_CODE = SearchAttributeKey.for_keyword("ProcedureCode")
DOSSIER_STATUS = SearchAttributeKey.for_keyword("DossierStatus")
ASSIGNED_UNIT = SearchAttributeKey.for_keyword("AssignedUnit")

# The dossier does not await this message now. Its details carry the last transition the workflow reached, so a
# caller that sees its read model ahead of a workflow task being redone can tell "not yet" from "no".
NOT_AWAITING = "NotAwaiting"
# The message comes from someone without the authority to act on the step or dossier.
NOT_YOUR_STEP = "NotYourStep"
