"""Offset pagination shared by every list route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")

MAX_LIMIT = 500


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


def page_params(
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="items per page"),
    offset: int = Query(0, ge=0, description="items to skip"),
) -> PageParams:
    """Paging parameters with a cap on the page size."""
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    """A page of items with the total count for the same filters."""

    items: list[T]
    total: int
    limit: int
    offset: int
