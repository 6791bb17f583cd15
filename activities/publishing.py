"""One activity that publishes what a dossier's workflow task decided: its transitions to the read model, then
the portal pushes queued with them.

One activity instead of one per lane spares each transition a round trip through Temporal. The portal pushes
ride along here only while the portal answers at once: the
read model is written first and must succeed (the activity is retried until it does), whereas a push the
portal does not take within the ride-along budget is left, with those after it, to the workflow's own portal
lane, which retries with backoff. So a slow or absent portal never holds the read model, nor the officers
whose decisions wait to be seen there.
"""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio import activity

from activities.agencies import AgencyActivities, AgencyUnavailable
from activities.read_model import ReadModelActivities
from domain.dossier import PublishBatch, Published, TransitionBatch

log = logging.getLogger(__name__)


class PublishingActivities:
    def __init__(
        self, read_model: ReadModelActivities, agencies: AgencyActivities, *, ride_along_seconds: float
    ) -> None:
        self._read_model = read_model
        self._agencies = agencies
        self._ride_along_seconds = ride_along_seconds

    @activity.defn
    async def publish_transitions(self, batch: PublishBatch) -> Published:
        await asyncio.to_thread(self._read_model.write_transitions, TransitionBatch(transitions=batch.transitions))
        pushed = 0
        deadline = time.monotonic() + self._ride_along_seconds
        for push in batch.portal_pushes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._agencies.push_portal_status(push), remaining)
            except (AgencyUnavailable, TimeoutError) as exc:
                log.info("dossier %s: portal push #%d left to the portal lane (%s)", push.dossier_code, push.seq, exc)
                break
            except Exception as exc:  # a refusal: the portal lane meets it again and deals with it
                log.warning("dossier %s: portal push #%d refused (%s)", push.dossier_code, push.seq, exc)
                break
            pushed += 1
        return Published(portal_pushed=pushed)
