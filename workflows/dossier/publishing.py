"""The publishing lanes: the read model and the national portal hear every transition of a dossier once, in order.

A transition is queued when it happens; one lane writes the read model in batches (the portal pushes queued so far
riding along), the other takes the pushes the portal did not take there, so a slow portal never holds an officer's
work. The search attributes operators filter by follow the read model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from activities.agencies import AgencyActivities
    from activities.publishing import PublishingActivities
    from activities.read_model import ReadModelActivities
    from domain.dossier import (
        DossierEvent,
        PortalStatus,
        PortalStatusPush,
        PublishBatch,
        Transition,
        TransitionBatch,
    )
    from infrastructure import request_context

from workflows.contract import ASSIGNED_UNIT, DOSSIER_STATUS
from workflows.dossier.progress import DossierProgress
from workflows.dossier.retries import AGENCY_RETRY, READ_MODEL_RETRY
from workflows.dossier.revisions import PUBLISH_LOCALLY, PUBLISH_TOGETHER


class Publisher:
    def __init__(self, progress: DossierProgress) -> None:
        self._progress = progress
        self.seq = 0  # the last transition recorded
        self._recorded_seq = 0  # the last transition the read model has
        self._record_queue: list[Transition] = []
        self._holds = 0
        self._indexed_units = ""
        self._indexed_status: str | None = None
        if progress.revision >= 1:  # as its starter indexed it (the API, or a parent dossier)
            started_with = workflow.info().typed_search_attributes
            self._indexed_units = started_with.get(ASSIGNED_UNIT) or ""
            self._indexed_status = started_with.get(DOSSIER_STATUS)
        self._portal_queue: list[PortalStatusPush] = []
        self._portal_pushed_status: PortalStatus | None = None
        self._portal_lane_pushing = False
        self._pending_attributes: dict[str, SearchAttributeUpdate] = {}
        # The request each queued transition serves: its publication carries that id into the activity's logs.
        self._request_of: dict[int, str | None] = {}

    @property
    def idle(self) -> bool:
        """Everything recorded has reached the read model and the portal."""
        return not self._portal_queue and not self._record_queue

    @property
    def portal_pushes_pending(self) -> int:
        return len(self._portal_queue)

    def has_recorded(self, seq: int) -> bool:
        return self._recorded_seq >= seq

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the read-model lane (revision 1) while a calendar question is under way, so that what happened
        before a step and the step it starts (with its deadline) are written together."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1

    def record(self, event: DossierEvent, *, with_state: bool = True, form_changed: bool = False) -> int:
        """Queue one transition for the read model, and the portal push if the status changed. Returns its sequence
        number."""
        progress = self._progress
        self.seq += 1
        seq = self.seq
        self._request_of[seq] = request_context.request_id.get()
        state = progress.snapshot_state() if with_state else None
        if state is not None:
            progress.state.status = state.status
            attributes = []
            units = ",".join(sorted({s.unit_code for s in state.active_steps if s.unit_code}))
            if not units and state.completed_at is None and progress.revision >= 1:
                units = self._indexed_units  # waiting on another system: still with the units that sent it there
            if units != self._indexed_units:
                self._indexed_units = units
                attributes.append(ASSIGNED_UNIT.value_set(units))
            if state.status != self._portal_pushed_status:
                self._portal_pushed_status = state.status
                self._portal_queue.append(
                    PortalStatusPush(
                        dossier_code=progress.input.dossier_code,
                        seq=seq,
                        status=state.status,
                        at=event.at,
                        procedure_code=progress.definition.code,
                        note=event.summary,
                    )
                )
            if state.status.name != self._indexed_status:
                self._indexed_status = state.status.name
                attributes.append(DOSSIER_STATUS.value_set(state.status.name))
            if attributes and progress.follows(PUBLISH_TOGETHER):
                self._pending_attributes.update((update.key.name, update) for update in attributes)
            elif attributes:
                workflow.upsert_search_attributes(attributes)
        self._record_queue.append(
            Transition(
                dossier_code=progress.input.dossier_code,
                seq=seq,
                event=event,
                state=state,
                form=dict(progress.form) if form_changed else None,
            )
        )
        return seq

    async def write_read_model_in_order(self) -> None:
        """The read model hears every transition once, in order; what queued meanwhile goes in one batch, with
        the portal pushes queued so far riding along unless the portal lane is retrying one."""
        while True:
            if self._progress.revision >= 1:
                await workflow.wait_condition(lambda: bool(self._record_queue) and not self._holds)
            else:
                await workflow.wait_condition(lambda: bool(self._record_queue))
            batch = self._record_queue[:100]
            request_context.request_id.set(self._request_of.get(batch[-1].seq))
            if not self._progress.follows(PUBLISH_TOGETHER):
                await workflow.execute_activity_method(
                    ReadModelActivities.record_transitions,
                    TransitionBatch(transitions=batch),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=READ_MODEL_RETRY,
                )
            else:
                # The search attributes follow the read model: what changed since the last batch, in one upsert.
                if self._pending_attributes:
                    workflow.upsert_search_attributes(list(self._pending_attributes.values()))
                    self._pending_attributes.clear()
                pushes = [] if self._portal_lane_pushing else list(self._portal_queue)
                locally = self._progress.follows(PUBLISH_LOCALLY)
                execute = workflow.execute_local_activity_method if locally else workflow.execute_activity_method
                published = await execute(
                    PublishingActivities.publish_transitions,
                    PublishBatch(transitions=batch, portal_pushes=pushes),
                    # A write takes milliseconds and the portal rides along for a second at most; one dispatched
                    # to a worker that then died (an activity, not a local one) is tried again soon.
                    start_to_close_timeout=timedelta(seconds=10),
                    retry_policy=READ_MODEL_RETRY,
                )
                # Only this lane and the portal lane take from the front of the queue, never both at once.
                del self._portal_queue[: published.portal_pushed]
            del self._record_queue[: len(batch)]
            self._recorded_seq = batch[-1].seq
            self._forget_requests()

    async def push_to_portal_in_order(self) -> None:
        """The portal hears every status change, in order; this lane takes the pushes that did not ride along with
        the read-model writes."""
        while True:
            if self._progress.follows(PUBLISH_TOGETHER):
                # A push is queued together with its transition: leave it to the read-model lane first.
                await workflow.wait_condition(lambda: bool(self._portal_queue) and not self._record_queue)
            else:
                await workflow.wait_condition(lambda: bool(self._portal_queue))
            push = self._portal_queue[0]
            request_context.request_id.set(self._request_of.get(push.seq))
            self._portal_lane_pushing = True
            await workflow.execute_activity_method(
                AgencyActivities.push_portal_status,
                push,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=AGENCY_RETRY,
            )
            self._portal_lane_pushing = False
            self._portal_queue.pop(0)
            self._forget_requests()

    def _forget_requests(self) -> None:
        """Keep the requests of what is still to be written or pushed, no more."""
        pushing = {push.seq for push in self._portal_queue}
        for seq in [seq for seq in self._request_of if seq <= self._recorded_seq and seq not in pushing]:
            del self._request_of[seq]
