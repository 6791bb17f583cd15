"""The baseline for dossier throughput: a bare Temporal workflow of the same shape as a dossier.

Two updates and two HTTP activities to the simulator, no product logic (no definition, no read model,
no portal sync), on the same server. Run as its own worker process, like the product's worker.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import httpx

TASK_QUEUE = "bench-baseline"


class BareActivities:
    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self._http = http
        self._url = url

    @activity.defn
    async def call_agency(self, key: str) -> str:
        response = await self._http.post(self._url, json={"dossier_code": key}, headers={"Idempotency-Key": key})
        response.raise_for_status()
        return response.json()["reference"]


@workflow.defn
class BareDossierWorkflow:
    def __init__(self) -> None:
        self._approvals = 0

    @workflow.run
    async def run(self, key: str) -> str:
        await workflow.wait_condition(lambda: self._approvals >= 1)
        await workflow.execute_activity_method(
            BareActivities.call_agency, f"{key}:1", start_to_close_timeout=timedelta(seconds=30)
        )
        await workflow.wait_condition(lambda: self._approvals >= 2)
        return await workflow.execute_activity_method(
            BareActivities.call_agency, f"{key}:2", start_to_close_timeout=timedelta(seconds=30)
        )

    @workflow.update
    async def approve(self) -> int:
        self._approvals += 1
        return self._approvals

    @approve.validator
    def _validate(self) -> None:
        if self._approvals >= 2:
            raise ValueError("nothing awaits an approval")
