"""One real stack for the whole session: Temporal dev server (compiled CLI), simulator, worker, API; or, in the cluster
suite, the cluster topology."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import SQLModel

from devstack.cluster import ClusterConfig, ClusterStack
from devstack.postgres import PostgresServer
from devstack.stack import Stack, StackConfig, administrator_token, deploy_procedures, free_port
from infrastructure.settings import PROJECT_ROOT
from readmodel.db import engine_for
from tests import support
from tests.browser import browser, new_page  # noqa: F401  (the page tests' fixtures: a real Chromium)

# Every worker the suite starts runs its workflows in Temporal's sandbox (off in service, for speed), so a
# non-deterministic call in workflow code fails the suite.
os.environ.setdefault("WORKFLOW_SANDBOX", "true")
# motcua defaults to production; what the suite runs in its own process (the admin CLI, token helpers) is the
# development stack's, as every process the stack starts is.
os.environ.setdefault("ENVIRONMENT", "development")


# TEST_TOPOLOGY=cluster runs the cluster suite: the tests marked `cluster`, on Temporal's services as separate
# processes on PostgreSQL, with two workers and two API processes (see devstack/cluster.py).
TOPOLOGY = os.environ.get("TEST_TOPOLOGY", "embedded")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TOPOLOGY == "cluster":
        chosen = [item for item in items if item.get_closest_marker("cluster")]
        config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
        items[:] = chosen
        return
    for item in items:
        if item.get_closest_marker("cluster_only"):
            item.add_marker(pytest.mark.skip(reason="runs in the cluster suite (TEST_TOPOLOGY=cluster)"))


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    data_dir = PROJECT_ROOT / "test-artifacts" / "stack"
    shutil.rmtree(data_dir, ignore_errors=True)
    # TEST_DATABASE_URL runs the suite on another database (PostgreSQL); its tables are recreated (migrated afresh).
    database_url = os.environ.get("TEST_DATABASE_URL")
    if database_url:
        from readmodel import tables  # noqa: F401  (drop_all drops only the tables registered by then)

        engine = engine_for(database_url)
        SQLModel.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        engine.dispose()
    # The suite's many requests from one address would trip the rate limits; their own test turns them on.
    extra_env = {
        "UPDATE_TIMEOUT_SECONDS": "20",
        "RATE_LIMITS_ENABLED": "false",
        "REQUEST_BODY_TIMEOUT_SECONDS": "3",
        # An unpaid fee's status is asked of the payment platform every few seconds (a lost confirmation).
        "PAYMENT_STATUS_CHECK_SECONDS": "4",
    }
    if TOPOLOGY == "cluster":
        config: StackConfig = ClusterConfig.on_free_ports(data_dir, database_url=database_url, extra_env=extra_env)
        stack: Stack = ClusterStack(config)  # type: ignore[arg-type]
    else:
        config = StackConfig(
            data_dir=data_dir,
            api_port=free_port(),
            simulator_port=free_port(),
            temporal_port=free_port(),
            temporal_ui=False,
            database_url=database_url,
            extra_env=extra_env,
        )
        stack = Stack(config)
    stack.start()
    support._identities[:] = [support.StackIdentities(config.api_url, config.data_dir)]
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """A PostgreSQL server for what must run on it: the cluster's own in the cluster suite, else one of the suite's
    own (Debian's binaries, a fresh cluster)."""
    if TOPOLOGY == "cluster":
        cluster = request.getfixturevalue("stack")
        if cluster.postgres is not None:
            yield cluster.postgres
            return
    data_dir = PROJECT_ROOT / "test-artifacts" / "postgres"
    shutil.rmtree(data_dir, ignore_errors=True)
    server = PostgresServer(data_dir, free_port(), data_dir.parent / "postgres.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.config.api_url, timeout=30, auth=support.SuiteAuth()) as client:
        yield client


@pytest.fixture(scope="session")
def simulator(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.config.simulator_url, timeout=30) as client:
        yield client


@pytest.fixture(autouse=True)
def _no_leftover_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "simulator" in request.fixturenames:
        request.getfixturevalue("simulator").delete("/_sim/faults")


@pytest.fixture(scope="session")
def shipped(stack: Stack) -> dict[str, int]:
    """The procedures shipped in procedures/, deployed as `make run` deploys them: code → version."""
    return {
        d["code"]: d["version"]
        for d in deploy_procedures(stack.config.api_url, PROJECT_ROOT / "procedures", administrator_token(stack.config))
    }


from devstack.oidc_server import OidcServer  # noqa: E402  (beside its fixture)


@pytest.fixture(scope="session")
def oidc_server() -> Iterator[OidcServer]:
    """Keycloak playing the national SSO (realm `national-sso`, officers) and VNeID (realm `vneid`, citizens), started
    once, for the tests that ask for it (`make oidc-server` installs it; clients and demo logins in
    devstack/oidc_server.py). Its database stays in test-artifacts/ between runs while the realms are unchanged."""
    folder = PROJECT_ROOT / "test-artifacts" / "oidc-server"
    server = OidcServer(folder / "keycloak", folder / "keycloak.log")
    seconds = server.start()
    print(f"\nKeycloak ready in {seconds:.1f} s ({'warm' if server.warm else 'fresh database'})")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def provider_api(stack: Stack, oidc_server: OidcServer) -> Iterator[str]:
    """An API process configured as production is: the two realms' logins and the national SSO's machine clients, no
    development sign-in. Its address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "OIDC_PROVIDERS": json.dumps(oidc_server.login_providers()),
        "PUBLIC_BASE_URL": url,
        "OWN_ISSUER_ENABLED": "false",
    }
    stack.start_api("api-providers", port, processes=1, env=env)
    oidc_server.send_sign_outs_to(url)  # sessions ended at Keycloak end here (back-channel logout)
    yield url
    stack.kill("api-providers")
