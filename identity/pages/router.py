"""The identity-vigilance officers' pages, under /ui (role officer; admin passes)."""

from __future__ import annotations

from fastapi import APIRouter

from identity.pages.pair import router as pair_router
from identity.pages.queue import router as queue_router
from identity.pages.records import router as records_router

router = APIRouter(prefix="/ui", include_in_schema=False)
router.include_router(queue_router)
router.include_router(pair_router)
router.include_router(records_router)
