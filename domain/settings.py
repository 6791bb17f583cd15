"""The one typed settings object of motcua: every process (API, worker, simulator, dev stack) reads it."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class OidcProvider(BaseModel):
    """An external OpenID Connect provider whose bearer tokens motcua accepts."""

    issuer: str
    jwks_url: str
    audience: str = "motcua"
    principal: Literal["officer", "citizen"]
    # Officers: the claim naming the officer in the unit registry. Citizens: the claim with the 12-digit ID.
    subject_claim: str = "sub"
    citizen_id_claim: str = "citizen_id"


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

    # Identity. motcua issues its own tokens for development and tests (and a CLI mints them); in production
    # it verifies tokens of OpenID Connect providers (national SSO for officers, VNeID for citizens).
    token_issuer: str = "motcua"
    token_audience: str = "motcua"
    own_issuer_enabled: bool | None = Field(default=None, description="default: on except in production")
    issuer_key_file: Path | None = Field(default=None, description="default: <data_dir>/keys/issuer.pem")
    token_lifetime_minutes: int = 8 * 60
    oidc_providers: list[OidcProvider] = []
    # The key that derives each dossier's lookup secret (printed on the receipt). Default: a file in data_dir.
    lookup_secret_key: str | None = None
    # Holds the administrator role whatever the registry says, so a fresh installation can be administered.
    bootstrap_administrator: str | None = None

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'motcua.sqlite3'}"

    @property
    def issues_own_tokens(self) -> bool:
        if self.own_issuer_enabled is not None:
            return self.own_issuer_enabled
        return self.environment != Environment.production

    @property
    def issuer_key_path(self) -> Path:
        return self.issuer_key_file or self.data_dir / "keys" / "issuer.pem"

    @property
    def lookup_secret_key_path(self) -> Path:
        return self.data_dir / "keys" / "lookup-secret.key"


@lru_cache
def get_settings() -> Settings:
    return Settings()
