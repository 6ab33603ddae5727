"""POST /api/v1/hl7v2: the MLLP listener's handling, for one message sent over HTTPS."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from identity.hl7v2.process import handle
from referentials.core.auth import DbSession, Principal, require
from referentials.core.errors import AppError

router = APIRouter(prefix="/api/v1", tags=["hl7v2"])
write_scope = require("identity:write")
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
def post_message(
    *,
    request: Request,
    session: DbSession,
    principal: Principal = Depends(write_scope),
    body: bytes = Depends(raw_body),
) -> Response:
    """Apply one PAM France ADT message (ITI-30, ITI-31); the answer is its ACK (HTTP 200)."""
    outcome = handle(session, principal, body, request.app.state.settings.hl7)
    return Response(
        outcome.ack,
        media_type=ER7,
        headers={"X-HL7-Ack-Code": outcome.code},
    )
