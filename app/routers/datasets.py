"""Which datasets this server can train on."""

from __future__ import annotations

from fastapi import APIRouter

from app.runs import dataset_status
from app.schemas_service import DatasetList, DatasetPublic

router = APIRouter(tags=["datasets"])


@router.get("/datasets", response_model=DatasetList)
def list_datasets() -> DatasetList:
    """Each dataset: available here or not, its source, its sizes, and what to do if missing."""
    from engine.datasets import SPECS

    return DatasetList(datasets=[DatasetPublic(**dataset_status(name)) for name in SPECS])
