"""The dossier workflow, one concern a module: `workflow` wires the parts together and reads as the table of
contents; `progress` is where the dossier stands; `steps` interprets the step graph, one family of steps a module;
`mailbox` takes officers' and applicants' messages; `legal_clock` keeps the deadlines and the appointment;
`publishing` tells the read model and the portal; `notices` reaches people; `revisions` keeps recorded histories
replaying. Other processes speak to it through `workflows.contract`."""

from workflows.dossier.revisions import REVISION, REVISION_PATCH
from workflows.dossier.workflow import DossierWorkflow

__all__ = ["REVISION", "REVISION_PATCH", "DossierWorkflow"]
