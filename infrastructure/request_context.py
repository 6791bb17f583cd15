"""One request id from the API to the workflow and its activities, on every log line, so that an operator follows one
citizen's or officer's request through every process. The API takes the id from `X-Request-ID` (or makes one),
Temporal carries it in the headers of the workflow start, update or signal, the worker's interceptor hands it on to
the activities the message leads to, and the log formatter writes it beside each message (JSON with LOG_FORMAT=json).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

import temporalio.activity
import temporalio.api.common.v1
import temporalio.client
import temporalio.converter
import temporalio.worker
import temporalio.workflow
from pythonjsonlogger.json import JsonFormatter

HEADER = "X-Request-ID"
TEMPORAL_HEADER = "motcua-request-id"
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# What a client may name its request by; anything else is replaced by an id of ours, never copied into the logs.
_ACCEPTED = re.compile(r"[A-Za-z0-9._-]{1,64}")


def accepted_or_new(given: str | None) -> str:
    return given if given is not None and _ACCEPTED.fullmatch(given) else uuid.uuid4().hex


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """The process's log lines, each with the request id it serves: plain text, or one JSON object a line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


@contextmanager
def serving(identifier: str | None) -> Iterator[None]:
    token = request_id.set(identifier)
    try:
        yield
    finally:
        request_id.reset(token)


# ------------------------------------------------------------------------------------------------- Temporal headers


class _WithHeaders(Protocol):
    headers: Mapping[str, temporalio.api.common.v1.Payload]


def _put(input: _WithHeaders, converter: temporalio.converter.PayloadConverter) -> None:
    identifier = request_id.get()
    if identifier:
        input.headers = {**input.headers, TEMPORAL_HEADER: converter.to_payload(identifier)}


def _taken(input: _WithHeaders, converter: temporalio.converter.PayloadConverter) -> str | None:
    payload = input.headers.get(TEMPORAL_HEADER)
    if payload is None:
        return None
    try:
        value = converter.from_payload(payload, str)
    except Exception:  # noqa: BLE001  (a header someone else wrote: ignored, never fatal)
        return None
    return value if isinstance(value, str) and _ACCEPTED.fullmatch(value) else None


class RequestIdInterceptor(temporalio.client.Interceptor, temporalio.worker.Interceptor):
    """Carries the request id in Temporal's headers: from the API's client calls into the workflow's handlers, and
    from there into the activities they start."""

    def intercept_client(self, next: temporalio.client.OutboundInterceptor) -> temporalio.client.OutboundInterceptor:
        return _ClientOutbound(next)

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[temporalio.worker.WorkflowInboundInterceptor]:
        return _WorkflowInbound


class _ClientOutbound(temporalio.client.OutboundInterceptor):
    _converter = temporalio.converter.default().payload_converter

    async def start_workflow(self, input: temporalio.client.StartWorkflowInput) -> Any:
        _put(input, self._converter)
        return await super().start_workflow(input)

    async def signal_workflow(self, input: temporalio.client.SignalWorkflowInput) -> None:
        _put(input, self._converter)
        await super().signal_workflow(input)

    async def start_workflow_update(self, input: temporalio.client.StartWorkflowUpdateInput) -> Any:
        _put(input, self._converter)
        return await super().start_workflow_update(input)


class _ActivityInbound(temporalio.worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        with serving(_taken(input, temporalio.activity.payload_converter())):
            return await self.next.execute_activity(input)


class _WorkflowInbound(temporalio.worker.WorkflowInboundInterceptor):
    def init(self, outbound: temporalio.worker.WorkflowOutboundInterceptor) -> None:
        self.next.init(_WorkflowOutbound(outbound))

    async def execute_workflow(self, input: temporalio.worker.ExecuteWorkflowInput) -> Any:
        # The submission's id names the start, not the whole run: the dossier's later steps serve later requests.
        with serving(_taken(input, temporalio.workflow.payload_converter())):
            temporalio.workflow.logger.info("workflow started")
        return await self.next.execute_workflow(input)

    async def handle_signal(self, input: temporalio.worker.HandleSignalInput) -> None:
        with serving(_taken(input, temporalio.workflow.payload_converter())):
            temporalio.workflow.logger.info("signal %s received", input.signal)
            return await self.next.handle_signal(input)

    async def handle_update_handler(self, input: temporalio.worker.HandleUpdateInput) -> Any:
        with serving(_taken(input, temporalio.workflow.payload_converter())):
            temporalio.workflow.logger.info("update %s accepted", input.update)
            return await self.next.handle_update_handler(input)


class _WorkflowOutbound(temporalio.worker.WorkflowOutboundInterceptor):
    def start_activity(self, input: temporalio.worker.StartActivityInput) -> temporalio.workflow.ActivityHandle:
        _put(input, temporalio.workflow.payload_converter())
        return self.next.start_activity(input)

    def start_local_activity(
        self, input: temporalio.worker.StartLocalActivityInput
    ) -> temporalio.workflow.ActivityHandle:
        _put(input, temporalio.workflow.payload_converter())
        return self.next.start_local_activity(input)

    async def start_child_workflow(self, input: temporalio.worker.StartChildWorkflowInput) -> Any:
        _put(input, temporalio.workflow.payload_converter())
        return await self.next.start_child_workflow(input)
