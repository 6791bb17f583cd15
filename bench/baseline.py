"""The baseline for dossier throughput: a bare Temporal workflow of the same shape as a dossier.

Two updates and two HTTP activities to the simulator, no product logic (no definition, no read model,
no portal sync), on the same server. Run as its own worker process, like the product's worker.

Like a dossier's step, the workflow takes a decision only while it awaits that decision: an officer decides
a step once it stands in the inbox, and the product refuses a decision its step is not awaiting. So each
update answers once the workflow awaits the next decision (or has none left), and the client sends the next
one then. A client sending both at once (as this baseline did at first) has its workflow take the second
decision while the first agency call is still running, and one or two of a dossier's five workflow tasks
merge into others: a cheaper workflow than the one the product runs.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import aiohttp

TASK_QUEUE = "bench-baseline"
DECISIONS = 2


class BareActivities:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self._http = http
        self._url = url

    @activity.defn
    async def call_agency(self, key: str) -> str:
        async with self._http.post(self._url, json={"dossier_code": key}, headers={"Idempotency-Key": key}) as r:
            r.raise_for_status()
            return (await r.json())["reference"]


@workflow.defn
class BareDossierWorkflow:
    def __init__(self) -> None:
        self._approvals = 0
        self._awaiting = 1  # the decision the workflow waits for; 0 while an agency is called or once done

    @workflow.run
    async def run(self, key: str) -> str:
        reference = ""
        for decision in range(1, DECISIONS + 1):
            self._awaiting = decision
            await workflow.wait_condition(lambda: self._approvals >= self._awaiting)
            self._awaiting = 0
            reference = await workflow.execute_activity_method(
                BareActivities.call_agency, f"{key}:{decision}", start_to_close_timeout=timedelta(seconds=30)
            )
        return reference

    @workflow.update
    async def approve(self) -> int:
        self._approvals += 1
        taken = self._approvals
        if taken < DECISIONS:
            # The next step "stands in the inbox" once the agency call between has answered.
            await workflow.wait_condition(lambda: self._awaiting == taken + 1)
        return taken

    @approve.validator
    def _validate(self) -> None:
        if self._awaiting != self._approvals + 1:
            raise ValueError("no decision is awaited now")
