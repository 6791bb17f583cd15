"""What every family of steps works with: the dossier's progress, the publishing lanes, the legal clock, the mailbox
and the notices; and the paths of the step graph under way, which a family may start (branches) or stop."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.definition import Step

from workflows.dossier.legal_clock import LegalClock
from workflows.dossier.letters import Letters
from workflows.dossier.mailbox import Mailbox
from workflows.dossier.notices import Notices
from workflows.dossier.progress import DossierProgress
from workflows.dossier.publishing import Publisher


class StepFamily:
    def __init__(
        self, progress: DossierProgress, publisher: Publisher, clock: LegalClock, mailbox: Mailbox, notices: Notices
    ) -> None:
        self.progress = progress
        self.publisher = publisher
        self.clock = clock
        self.mailbox = mailbox
        self.notices = notices
        self.letters = Letters(progress, publisher)  # official letters (revision 5)
        self.stopping: set[asyncio.Task[Any]] = set()  # paths told to stop: the dossier's processing is ending

    async def run_path(self, steps: list[Step], start: str) -> None:
        raise NotImplementedError

    async def stop(self, paths: list[asyncio.Task[Any]]) -> None:
        """Stop paths of the step graph under way (and the child dossiers they wait on), and wait until they have."""
        for path in paths:
            self.stopping.add(path)
            path.cancel()
        await asyncio.gather(*paths, return_exceptions=True)
