"""Worker process for the throughput baseline (a module of its own: workflows cannot live in __main__)."""

from __future__ import annotations

import sys

import uvloop
from temporalio.client import Client
from temporalio.worker import Worker

from activities.agencies import agency_session
from bench.baseline import TASK_QUEUE, BareActivities, BareDossierWorkflow


async def main(address: str, simulator_url: str) -> None:
    client = await Client.connect(address)
    async with agency_session(30) as http:  # the product worker's HTTP session, the same settings
        activities = BareActivities(http, f"{simulator_url}/systems/civil_status/bench")
        worker = Worker(
            client, task_queue=TASK_QUEUE, workflows=[BareDossierWorkflow], activities=[activities.call_agency]
        )
        await worker.run()


if __name__ == "__main__":
    # The same event loop as the product's worker, so the comparison is of the workflows alone.
    uvloop.run(main(sys.argv[1], sys.argv[2]))
