"""Connecting to Temporal the one way every process of motcua does."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from infrastructure.request_context import RequestIdInterceptor
from infrastructure.settings import Settings

log = logging.getLogger(__name__)

# One pydantic TypeAdapter per type for the whole process. The SDK builds a payload converter (and with it an
# empty adapter cache) for every new workflow, so each dossier would otherwise pay for building the adapter of its
# own input, whose validator pydantic compiles afresh.
_adapter = functools.lru_cache(maxsize=1024)(TypeAdapter)


class _SharedAdaptersJSONConverter(PydanticJSONPlainPayloadConverter):
    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            adapter = _adapter(type_hint if type_hint is not None else Any)
        except TypeError:  # a hint that is not hashable: the SDK's own path builds its adapter each time
            return super().from_payload(payload, type_hint)
        return adapter.validate_json(payload.data)


class PayloadConverter(CompositePayloadConverter):
    """Temporal's pydantic payload conversion, with adapters shared by every workflow of the process."""

    def __init__(self) -> None:
        json = _SharedAdaptersJSONConverter()
        super().__init__(
            *(
                json if isinstance(converter, JSONPlainPayloadConverter) else converter
                for converter in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


data_converter = DataConverter(payload_converter_class=PayloadConverter)

# Registered on the server so `temporal workflow list --query` and the UI can find dossiers.
SEARCH_ATTRIBUTES = {
    "ProcedureCode": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "DossierStatus": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "AssignedUnit": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


# The worker's own metrics beside the SDK's, with buckets for what they measure (the SDK's suit milliseconds).
PORTAL_SYNC_LAG = "motcua_portal_sync_lag_seconds"
METRIC_BUCKETS = {PORTAL_SYNC_LAG: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400]}


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime serving the SDK's own metrics (workflow and activity tasks, their latencies and failures, polls)
    and the activities' to Prometheus at `worker_metrics_address`; None keeps the SDK's default runtime."""
    if not settings.worker_metrics_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=settings.worker_metrics_address, histogram_bucket_overrides=METRIC_BUCKETS
            )
        )
    )


def default_address(settings: Settings) -> str:
    return settings.temporal_address or "127.0.0.1:7233"


async def connect(settings: Settings, *, attempts: int = 30, runtime: Runtime | None = None) -> Client:
    """Connect, waiting a little for a server that is still starting."""
    address = default_address(settings)
    for attempt in range(1, attempts + 1):
        try:
            return await Client.connect(
                address,
                namespace=settings.temporal_namespace,
                data_converter=data_converter,
                runtime=runtime,
                # The API's calls carry their request's id; the worker hands it on (it is a worker interceptor too).
                interceptors=[RequestIdInterceptor()],
            )
        except RuntimeError as exc:
            if attempt == attempts:
                raise
            log.info("Temporal at %s not ready (%s); retrying", address, exc)
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register motcua's search attributes where they are missing (an existing cluster)."""
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    missing = {name: kind for name, kind in SEARCH_ATTRIBUTES.items() if name not in listed.custom_attributes}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )
        log.info("registered search attributes %s", ", ".join(missing))
