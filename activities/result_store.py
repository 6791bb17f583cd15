"""Adapter to the electronic result store (kho kết quả điện tử), over HTTP.

A deposit carries the signed PDF, its signature and certificate chain. Its Idempotency-Key is the
dossier code and document id, so however often a deposit is retried (an answer lost, an outage) the
store keeps one copy of each document of a dossier.
"""

from __future__ import annotations

import base64

import aiohttp

from activities.agencies import post_idempotent
from readmodel.db import as_utc
from readmodel.tables import IssuedResultRow


def deposit_key(dossier_code: str, document_id: str) -> str:
    return f"{dossier_code}:{document_id}"


class ResultStoreClient:
    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    async def deposit(self, result: IssuedResultRow) -> str | None:
        """Deposit an issued result; the store's reference. Raises AgencyUnavailable (retry) or AgencyRefused."""
        answer = await post_idempotent(
            self._http,
            f"{self._base}/results",
            deposit_key(result.dossier_code, result.document_id),
            {
                "result_id": result.id,
                "dossier_code": result.dossier_code,
                "document_id": result.document_id,
                "name": result.name,
                "issuer_unit": result.unit_code,
                "signer": result.signer,
                "issued_at": as_utc(result.issued_at).isoformat(),
                "media_type": "application/pdf",
                "sha256": result.sha256,
                "signature": result.signature,
                "signature_algorithm": result.signature_algorithm,
                "signed_manifest": result.manifest,
                "certificate_chain_pem": result.certificate_chain_pem,
                "content_base64": base64.b64encode(result.pdf).decode(),
            },
        )
        return answer.get("reference")
