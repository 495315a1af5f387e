"""Every setting of the service, read from ``BACKPROP_LAB_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service settings; each field is ``BACKPROP_LAB_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="BACKPROP_LAB_", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("backprop-lab")),
        description="Directory for the SQLite database and saved weights.",
    )
    workers: int = Field(2, ge=1, le=64, description="Training worker processes.")
    max_body_bytes: int = Field(8_000_000, ge=1024, description="Largest request body accepted.")
    max_graph_nodes: int = Field(500, ge=1, description="Nodes per posted graph.")
    max_tensor_elements: int = Field(1_000_000, ge=1, description="Elements per tensor in a graph.")
    max_total_elements: int = Field(
        5_000_000, ge=1, description="Elements of all tensors of one graph evaluation together."
    )
    max_iterations: int = Field(100_000, ge=1, description="Iterations per training run.")
    max_hidden_size: int = Field(2048, ge=1, description="Hidden units of a trained network.")
    max_batch_size: int = Field(10_000, ge=1, description="Batch size of a training run.")
    max_active_runs: int = Field(
        8, ge=1, description="Training runs queued and running at once, all users together."
    )
    max_gradcheck_batch: int = Field(100, ge=1, description="Images in one gradient check.")


@lru_cache
def get_settings() -> Settings:
    """The settings of this process (read once)."""
    return Settings()
