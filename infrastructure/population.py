"""Adapter to the national population database (via NDXP/VNeID): a citizen by 12-digit ID."""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)


class PopulationUnavailable(Exception):
    pass


class PopulationClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    async def citizen(self, citizen_id: str) -> dict[str, Any] | None:
        """The citizen's record, or None when the database has no such ID."""
        try:
            response = await self._http.get(f"{self._base}/citizens/{citizen_id}")
        except httpx.HTTPError as exc:
            raise PopulationUnavailable(f"population database unreachable: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            log.warning("population lookup answered %d", response.status_code)
            raise PopulationUnavailable(f"population database answered {response.status_code}")
        return response.json()
