"""Messages to a dossier's workflow: applicants' and officers' messages relayed as Updates (with the rule for asking
again), the live detail query, and Temporal's refusals as HTTP errors."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import timedelta

from fastapi import HTTPException, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlmodel import Session
from temporalio.client import Client, RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.dossier import DossierLiveDetail, MessageAccepted
from infrastructure.settings import Settings
from readmodel import dossiers
from readmodel.db import release
from workflows.contract import DETAIL_QUERY, NOT_AWAITING, NOT_YOUR_STEP, DossierUpdate

# The dossier API's logger: log searches select the dossiers' lines by its name.
log = logging.getLogger("api.routes.dossiers")


async def relay(
    session: Session, client: Client, settings: Settings, code: str, update: DossierUpdate, message: BaseModel
) -> MessageAccepted:
    """Send a message to the dossier's workflow and answer with its outcome. The request's database connection goes
    back to the pool first: an update takes a workflow task or two, and with dozens of decisions in flight, held
    connections would run the pool dry (every submission then opening a connection of its own)."""
    release(session)
    handle = client.get_workflow_handle(code)
    deadline = time.monotonic() + settings.update_timeout_seconds
    update_id = str(uuid.uuid4())  # the same message each time it is sent again, applied at most once
    pause = 0.1
    while True:
        try:
            return await handle.execute_update(
                update.value,
                message,
                id=update_id,
                result_type=MessageAccepted,
                rpc_timeout=timedelta(seconds=max(deadline - time.monotonic(), 1)),
            )
        except WorkflowUpdateFailedError as failed:
            cause = failed.cause
            if not isinstance(cause, ApplicationError):
                raise HTTPException(status.HTTP_409_CONFLICT, str(cause)) from None
            if cause.type == NOT_YOUR_STEP:
                raise HTTPException(status.HTTP_403_FORBIDDEN, cause.message) from None
            if time.monotonic() + pause > deadline or not await _behind_its_read_model(session, code, cause):
                raise HTTPException(status.HTTP_409_CONFLICT, cause.message) from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
        except RPCTimeoutOrCancelledError:
            # The message may still be applied (e.g. once a worker is back): the client asks again or looks.
            raise HTTPException(
                status.HTTP_504_GATEWAY_TIMEOUT, f"dossier {code} did not answer in time; send it again or look at it"
            ) from None
        except RPCError as exc:
            raise rpc_http_error(code, exc) from exc


async def _behind_its_read_model(session: Session, code: str, refusal: ApplicationError) -> bool:
    """Whether the workflow refused at a transition older than the read model shows: a workflow task whose worker
    died is being redone (what it published stays; the workflow reaches it again within moments)."""
    reached = refusal.details[0] if refusal.type == NOT_AWAITING and refusal.details else None
    if not isinstance(reached, int):
        return False
    published = await run_in_threadpool(_published_seq, session, code)
    if published > reached:
        log.info("dossier %s refused at transition %d, published %d: asking again", code, reached, published)
    return published > reached


def _published_seq(session: Session, code: str) -> int:
    try:
        return dossiers.published_seq(session, code)
    finally:
        release(session)


def rpc_http_error(code: str, exc: RPCError) -> HTTPException:
    if exc.status == RPCStatusCode.NOT_FOUND:
        # The workflow has closed (or was never started): nothing awaits a message.
        return HTTPException(status.HTTP_409_CONFLICT, f"dossier {code} is not being processed: {exc.message}")
    if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, f"dossier {code} did not answer in time; try again")
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow engine error: {exc.message}")


async def live_detail(client: Client, code: str) -> DossierLiveDetail:
    """The workflow's own account of the dossier (a query; the read model trails it)."""
    try:
        return await client.get_workflow_handle(code).query(DETAIL_QUERY, result_type=DossierLiveDetail)
    except RPCError as exc:
        raise rpc_http_error(code, exc) from exc
