"""POST /api/v1/hl7v2: the MLLP listener's handling, for one message sent over HTTPS."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from identity.hl7v2.process import Outcome, handle
from referentials.core.auth import DbSession, Principal
from referentials.core.caller import Caller, caller
from referentials.core.db import commit_now
from referentials.core.errors import AppError
from referentials.core.settings import Hl7Settings

router = APIRouter(prefix="/api/v1", tags=["hl7v2"])
# An A28 or a movement scores its candidates and writes, as a REST creation does: in one of the
# process's matching threads, committed there (README, "Creations in the matching threads").
write_caller = caller("identity:write", matching=True)
ER7 = "x-application/hl7-v2+er7"
ACCEPTED = (ER7, "application/hl7-v2", "text/plain")


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


async def raw_body(request: Request) -> bytes:
    """The body as sent: an ER7 message is not JSON (read here, so the route stays sync)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ACCEPTED:
        raise UnsupportedMediaType(
            f"send the message as {ER7} or text/plain", fields={"content-type": media}
        )
    return await request.body()


@router.post(
    "/hl7v2",
    response_class=Response,
    responses={200: {"content": {ER7: {}}, "description": "the HL7 v2 ACK (AA, AE or AR)"}},
)
async def post_message(
    *,
    request: Request,
    session: DbSession,
    caller: Caller = Depends(write_caller),
    body: bytes = Depends(raw_body),
) -> Response:
    """Apply one PAM France ADT message (ITI-30, ITI-31); the answer is its ACK (HTTP 200)."""
    outcome = await caller.run(session, _handle, body, request.app.state.settings.hl7)
    return Response(
        outcome.ack,
        media_type=ER7,
        headers={"X-HL7-Ack-Code": outcome.code},
    )


def _handle(session: Session, principal: Principal, body: bytes, settings: Hl7Settings) -> Outcome:
    outcome = handle(session, principal, body, settings)
    commit_now(session)  # in this thread: the write lock is not held across a trip to the loop
    return outcome
