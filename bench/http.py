"""The bench's HTTP client for the API under test.

The clients share the two cores with the product they measure, so they should cost it as little as they can:
aiohttp spends far less CPU on a request than httpx does.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

import aiohttp


class RequestFailed(Exception):
    """A request the bench needed did not succeed: no answer, or 4xx or 5xx. Its message names the request, so a
    run that stops says which one stopped it."""


class BenchClient:
    def __init__(self, base_url: str, *, timeout: float = 120, connections: int = 100) -> None:
        self._session = aiohttp.ClientSession(
            base_url,
            timeout=aiohttp.ClientTimeout(total=timeout),
            connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=4),
        )
        self.requests = 0

    async def get(
        self, path: str, *, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        return await self._call("GET", path, params=params, headers=headers)

    async def post(self, path: str, body: Any, *, headers: dict[str, str] | None = None) -> Any:
        return await self._call("POST", path, json=body, headers=headers)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        self.requests += 1
        try:
            async with self._session.request(method, path, **kwargs) as response:
                content = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RequestFailed(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status >= 400:
            raise RequestFailed(f"{method} {path} answered {response.status}: {content[:300].decode(errors='replace')}")
        return json.loads(content) if content else None

    async def __aenter__(self) -> BenchClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self._session.close()
