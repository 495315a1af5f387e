"""Which datasets this server can train on."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.datasets import all_statuses
from app.schemas_service import DatasetList, DatasetPublic

router = APIRouter(tags=["datasets"])


@router.get("/datasets", response_model=DatasetList)
def list_datasets(request: Request) -> DatasetList:
    """Each dataset: here, downloaded on first use, or how to provide it; and the default."""
    statuses, default = all_statuses(request.app.state.settings)
    return DatasetList(datasets=[DatasetPublic(**s) for s in statuses], default=default)
