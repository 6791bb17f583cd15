"""The one typed settings object of motcua: every process (API, worker, simulator, dev stack) reads it."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Environment = Environment.development

    # Temporal. When temporal_address is unset the dev stack starts its own dev server.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "motcua-dossiers"

    # Read model. Unset: a SQLite file in the data folder.
    database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / ".data"

    # External agency systems (the simulator by default). Adapters read only these.
    portal_base_url: str = "http://127.0.0.1:8100/portal"
    population_base_url: str = "http://127.0.0.1:8100/population"
    agency_systems_base_url: str = "http://127.0.0.1:8100/systems"
    agency_api_token: str | None = Field(default=None, description="Bearer token sent to agency systems")
    agency_call_timeout_seconds: float = 10.0

    # Legal clock defaults (issue: the legal clock refines these per jurisdiction).
    timezone: str = "Asia/Ho_Chi_Minh"
    receipt_cutoff: str = "15:00"

    # Decisions and supplements wait this long for the workflow to accept them.
    update_timeout_seconds: float = 15.0

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'motcua.sqlite3'}"

    @property
    def allows_development_identity(self) -> bool:
        return self.environment != Environment.production


@lru_cache
def get_settings() -> Settings:
    return Settings()
