"""The one typed settings object of motcua: every process (API, worker, simulator, dev stack) reads it."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
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
    # Browsers sign in through the provider (authorization code with PKCE, api/pages/oidc_login.py) when it names a
    # client: `name` in the login's address (/sign-in/{name}), `display_name` on the sign-in page's button. The
    # ID token's audience is client_id; the callback is PUBLIC_BASE_URL/sign-in/{name}/callback.
    name: str | None = Field(default=None, pattern=r"^[a-z0-9-]{1,40}$")
    display_name: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    discovery_url: str | None = None  # default: <issuer>/.well-known/openid-configuration
    scopes: str = "openid profile"
    # Machine clients whose client-credentials tokens this provider issues, each with the scopes motcua lets it use
    # (a token's `scope` claim counts only as far as listed here): {"national-portal": ["dossiers:receive", ...]}.
    # A token is a machine client's when its `azp` names one of them and it names no person; others' are refused.
    machine_clients: dict[str, list[str]] = {}

    @property
    def offers_login(self) -> bool:
        return self.name is not None and self.client_id is not None

    @property
    def metadata_url(self) -> str:
        return self.discovery_url or f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Production unless said otherwise: the development stack (make run, the tests) sets development, and with it
    # motcua's own token issuer, the password-less sign-in and generated signing keys.
    environment: Environment = Environment.production

    # Temporal. When temporal_address is unset the dev stack starts its own dev server.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "motcua-dossiers"

    # Read model. Unset: a SQLite file in the data folder.
    database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / ".data"
    # The API and the worker bring the read model's schema to this version's at start (one at a time, under a lock).
    # Off: an operator migrates explicitly (`motcua-admin migrate`), and a process finding the schema behind refuses
    # to start.
    migrate_on_start: bool = True

    # External agency systems (the simulator by default). Adapters read only these.
    portal_base_url: str = "http://127.0.0.1:8100/portal"
    population_base_url: str = "http://127.0.0.1:8100/population"
    agency_systems_base_url: str = "http://127.0.0.1:8100/systems"
    agency_api_token: str | None = Field(default=None, description="Bearer token sent to agency systems")
    agency_call_timeout_seconds: float = 10.0
    # How long a portal push may take when it rides along with a read-model write; beyond, the workflow's own
    # portal lane retries it, so that a slow portal never delays what officers and citizens see.
    portal_ride_along_seconds: float = Field(default=1.0, ge=0)
    # The electronic result store (kho kết quả điện tử) where issued results are deposited.
    result_store_base_url: str = "http://127.0.0.1:8100/result-store"
    # Where citizens reach the API; printed on every result so anyone can verify it.
    public_base_url: str = "http://127.0.0.1:8000"

    # Signed results. Each unit signs with its own key; its certificate is issued by the root CA below.
    # Unset paths live under <data_dir>/signing: root-ca.pem (the trust anchor), root-ca.key.pem (the root's
    # key, needed only to issue unit certificates) and units/<agency code>.pem (a unit's key and certificate chain).
    signing_dir: Path | None = None
    signing_root_certificate: Path | None = None
    signing_root_key: Path | None = None
    signing_key_passphrase: SecretStr | None = None  # encrypts the keys generated on first use
    # Generate the root and unit keys on first use; unset: everywhere but production.
    signing_generate_keys: bool | None = None
    result_upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    # Files applicants attach to their eForm (POST /attachments): largest accepted, the media types accepted
    # (each dossier component narrows them further), and where they are kept (by content hash; default
    # <data_dir>/attachments).
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    attachment_media_types: list[str] = ["application/pdf", "image/jpeg", "image/png"]
    attachments_dir: Path | None = None

    # The national public-service portal pushes dossiers with this shared key (X-Portal-Key); unset: refused (the
    # portal then signs in as a machine client of an OIDC provider: OidcProvider.machine_clients).
    portal_api_key: SecretStr | None = None
    # Agencies that answer later send their answers with this shared key (X-Agency-Key); unset: only machine clients
    # with the scope dossiers:answer may (api/routes/agency_answers.py).
    agency_callback_key: SecretStr | None = None
    # The national payment platform (Cổng thanh toán quốc gia; the simulator by default): fee steps of dossiers on
    # workflow revision 5 ask it to collect their fee. Its confirmations are signed with HMAC-SHA256 under this shared
    # secret (X-Payment-Signature); unset: every confirmation is refused (401). While a fee waits, its request's
    # status is asked of the platform every PAYMENT_STATUS_CHECK_SECONDS, so a lost confirmation still moves it on.
    payment_platform_base_url: str = "http://127.0.0.1:8100/payment-platform"
    payment_platform_secret: SecretStr | None = None
    payment_status_check_seconds: float = Field(default=600.0, ge=1, le=86_400)

    # Legal clock defaults (issue: the legal clock refines these per jurisdiction).
    timezone: str = "Asia/Ho_Chi_Minh"
    receipt_cutoff: str = "15:00"

    # Threads the API gives blocking work (database reads and writes).
    api_threads: int = Field(default=8, ge=1, le=200)

    # Limits at the edge (api/edge.py), checked before anything reads a request: the largest body per content type
    # (413; uploads keep ATTACHMENT_MAX_BYTES / RESULT_UPLOAD_MAX_BYTES), a JSON body's nesting depth (422) and
    # number of values (413), a definition's YAML nesting, the errors a 422 lists (the rest counted), and how long
    # a body may take to arrive (408; for an upload, each next piece).
    request_max_json_bytes: int = Field(default=1_000_000, ge=64 * 1024)
    request_max_yaml_bytes: int = Field(default=1_000_000, ge=64 * 1024)
    request_max_form_bytes: int = Field(default=1_000_000, ge=64 * 1024)
    request_max_depth: int = Field(default=32, ge=8, le=200)
    request_max_values: int = Field(default=20_000, ge=1_000)
    max_errors_listed: int = Field(default=20, ge=1, le=1_000)
    request_body_timeout_seconds: float = Field(default=30.0, gt=0)

    # Run workflows in Temporal's sandbox, which catches non-deterministic calls as they happen but costs the
    # worker CPU on every workflow task. The test suite turns it on; workers in service run without it.
    workflow_sandbox: bool = False

    # What this worker process polls for: everything, only workflow tasks (and their local activities), or
    # only activities. Two processes, one each, keep officers' decisions clear of activity work (but activities are
    # then no longer dispatched eagerly to the worker whose workflow scheduled them).
    worker_tasks: Literal["all", "workflows", "activities"] = "all"

    # Processes the worker renders result documents in, beside its own: rendering a PDF is CPU-bound Python
    # and would otherwise hold the interpreter that runs workflow tasks. 0 renders inside the worker.
    document_processes: int = Field(default=1, ge=0, le=64)

    # Log lines as plain text or one JSON object a line; each names the request it serves (X-Request-ID).
    log_format: Literal["text", "json"] = "text"

    # Where the worker serves the Temporal SDK's Prometheus metrics (host:port); unset: not served.
    worker_metrics_address: str | None = None

    # Rate limits (api/rate_limits.py), as the `limits` library writes them ("20/minute"), counted in a store the
    # API processes share: RATE_LIMIT_STORAGE_URL (redis://host:port; unset: each process counts on its own).
    # Wrong lookup secrets per client and per dossier; sign-ins per client; submissions and prefills per person
    # signed in, or per client address for anyone else.
    rate_limits_enabled: bool = True
    rate_limit_storage_url: str | None = None
    rate_limit_lookup_failures_per_client: str = "20/minute"
    rate_limit_lookup_failures_per_dossier: str = "100/hour"
    rate_limit_sign_in: str = "10/minute"
    rate_limit_submissions: str = "60/minute"
    rate_limit_prefill: str = "30/minute"

    # Decisions and supplements wait this long for the workflow to accept them.
    update_timeout_seconds: float = 15.0

    # Identity. motcua issues its own tokens for development and tests (and a CLI mints them); in production
    # it verifies tokens of OpenID Connect providers (national SSO for officers, VNeID for citizens).
    token_issuer: str = "motcua"
    token_audience: str = "motcua"
    own_issuer_enabled: bool | None = Field(default=None, description="default: on except in production")
    issuer_key_file: Path | None = Field(default=None, description="default: <data_dir>/keys/issuer.pem")
    token_lifetime_minutes: int = 8 * 60
    # Browsers signed in to the pages hold a server-side session (readmodel/sign_in_sessions.py): it ends at sign-out,
    # on revocation (`motcua-admin sessions end`), this long after sign-in whatever happens, and after this long
    # without a request (long enough to fill in a long eForm).
    session_lifetime_minutes: int = Field(default=8 * 60, ge=1)
    session_idle_minutes: int = Field(default=60, ge=1)
    oidc_providers: list[OidcProvider] = []
    # The key that derives each dossier's lookup secret (printed on the receipt). Default: a file in data_dir.
    lookup_secret_key: str | None = None
    # Holds the administrator role whatever the registry says, so a fresh installation can be administered.
    bootstrap_administrator: str | None = None
    # The issuer whose token may name the bootstrap administrator (default: motcua's own, TOKEN_ISSUER): the same
    # subject at another provider is someone else.
    bootstrap_administrator_issuer: str | None = None

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
    def signing_folder(self) -> Path:
        return self.signing_dir or self.data_dir / "signing"

    @property
    def generates_signing_keys(self) -> bool:
        if self.signing_generate_keys is not None:
            return self.signing_generate_keys
        return self.environment != Environment.production

    @property
    def attachment_folder(self) -> Path:
        return self.attachments_dir or self.data_dir / "attachments"

    @property
    def secure_cookies(self) -> bool:
        """The pages' cookies travel over HTTPS only when citizens reach motcua over HTTPS."""
        return self.public_base_url.startswith("https://")

    @property
    def issuer_key_path(self) -> Path:
        return self.issuer_key_file or self.data_dir / "keys" / "issuer.pem"

    @property
    def lookup_secret_key_path(self) -> Path:
        return self.data_dir / "keys" / "lookup-secret.key"


@lru_cache
def get_settings() -> Settings:
    return Settings()
