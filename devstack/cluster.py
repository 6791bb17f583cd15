"""The cluster topology: PostgreSQL, Temporal's frontend, history, matching and worker services as separate processes
(the server compiled from source), several motcua workers and API processes, and the agency simulator.

It is how a ministry runs motcua, on one machine: `make run-cluster` starts it and the cluster suite tests it.
`deploy/` holds the same commands as systemd units."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg
import yaml
from sqlalchemy.engine import make_url
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from devstack.postgres import SUPERUSER, PostgresServer
from devstack.stack import Stack, StackConfig, StackError, free_port
from infrastructure.settings import PROJECT_ROOT
from infrastructure.temporal import ensure_search_attributes

log = logging.getLogger("motcua.devstack.cluster")

TEMPORAL_SERVER_DIR = PROJECT_ROOT / ".tools" / "temporal-server"
# Membership needs history and matching before the frontend can route; the worker service talks to the frontend.
TEMPORAL_SERVICES = ("history", "matching", "frontend", "worker")
TEMPORAL_DATABASES = {"temporal": "temporal", "temporal_visibility": "visibility"}
READ_MODEL_DATABASE = "motcua"
# Shards are fixed when the cluster is created; four carry a province's load on a few cores (docs/deployment.md).
HISTORY_SHARDS = 4
NAMESPACE_RETENTION = timedelta(days=30)


@dataclass
class ServicePorts:
    grpc: int
    membership: int
    metrics: int
    http: int | None = None  # the frontend's HTTP API


def fixed_service_ports(frontend_grpc: int = 7233) -> dict[str, ServicePorts]:
    """Temporal's customary ports: gRPC 7233-7239, membership 6933-6939; metrics on 9091-9094."""
    offsets = {"frontend": 0, "history": 1, "matching": 2, "worker": 6}
    return {
        name: ServicePorts(
            grpc=frontend_grpc + offset,
            membership=6933 + offset,
            metrics=9091 + index,
            http=7243 if name == "frontend" else None,
        )
        for index, (name, offset) in enumerate(offsets.items())
    }


def free_service_ports() -> dict[str, ServicePorts]:
    taken: set[int] = set()
    return {
        name: ServicePorts(
            free_port(), free_membership_port(taken), free_port(), free_port() if name == "frontend" else None
        )
        for name in TEMPORAL_SERVICES
    }


def free_membership_port(taken: set[int]) -> int:
    """A free port Temporal can record, not in `taken` (which it joins): the membership table keeps ports as a
    smallint, and the kernel's own free ports lie above 32767."""
    rng = random.Random()
    while True:
        port = rng.randrange(20000, 32000)
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            taken.add(port)
            return port


@dataclass
class ClusterConfig(StackConfig):
    postgres_port: int = 5433
    services: dict[str, ServicePorts] = field(default_factory=fixed_service_ports)
    worker_processes: int = 2
    api_ports: list[int] = field(default_factory=lambda: [8000, 8001])

    def __post_init__(self) -> None:
        self.api_port = self.api_ports[0]
        self.temporal_port = self.services["frontend"].grpc
        self.temporal_ui = False

    @classmethod
    def on_free_ports(cls, data_dir: Path, **fields: object) -> ClusterConfig:
        return cls(
            data_dir=data_dir,
            simulator_port=free_port(),
            postgres_port=free_port(),
            services=free_service_ports(),
            api_ports=[free_port(), free_port()],
            **fields,  # type: ignore[arg-type]
        )

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.api_ports]

    @property
    def temporal_config_dir(self) -> Path:
        return self.data_dir / "temporal" / "config"


def temporal_service_command(server: Path, config_dir: Path, service: str) -> list[str]:
    """One of Temporal's services, configured by <config_dir>/<service>.yaml."""
    return [
        str(server),
        "--root", str(config_dir.parent), "--config", config_dir.name, "--env", service,
        "--allow-no-auth", "start", "--service", service,
    ]  # fmt: skip


def temporal_binary(name: str) -> Path:
    binary = TEMPORAL_SERVER_DIR / "bin" / name
    if not binary.exists():
        raise StackError(f"{binary} not found: run `make temporal-server` (it compiles the server with go install)")
    return binary


class ClusterStack(Stack):
    config: ClusterConfig
    STOP_SIGNALS = {**Stack.STOP_SIGNALS, **{f"temporal-{name}": signal.SIGINT for name in TEMPORAL_SERVICES}}

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        self.postgres: PostgresServer | None = None
        self._database_server()  # refuse a DATABASE_URL that is not PostgreSQL before starting anything

    # ------------------------------------------------------------------------------- parts

    def stop(self) -> None:
        """Clients before servers, whatever order restarts left the processes in: API processes, workers and the
        simulator, Temporal's services (history last, so the others do not wait on it), then PostgreSQL."""
        services = [f"temporal-{name}" for name in ("worker", "frontend", "matching", "history")]
        rank = {name: index for index, name in enumerate(["postgres", *reversed(services)])}
        self.processes = dict(sorted(self.processes.items(), key=lambda item: rank.get(item[0], len(rank))))
        super().stop()
        if self.postgres is not None:
            self.postgres.stop()  # closes its log; the process itself is stopped above

    def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.config.database_url is None:
                self.start_postgres()
            self.prepare_temporal_databases()
            for service in TEMPORAL_SERVICES:
                self.start_temporal_service(service)
            self.prepare_namespace()
            self.start_simulator()
            for number in range(1, self.config.worker_processes + 1):
                self.start_worker(f"worker-{number}")
            for number, port in enumerate(self.config.api_ports, start=1):
                self.start_api(f"api-{number}", port)
        except BaseException:
            self.stop()
            raise

    def start_postgres(self) -> None:
        if self.postgres is None:
            self.postgres = PostgresServer(
                self.config.data_dir / "postgres", self.config.postgres_port, self.log_path("postgres")
            )
        self.postgres.start()
        assert self.postgres.process is not None
        self.processes["postgres"] = self.postgres.process
        self.postgres.create_database(READ_MODEL_DATABASE)
        self.config.database_url = self.postgres.url(READ_MODEL_DATABASE)

    def prepare_temporal_databases(self) -> None:
        """Create Temporal's databases and install their schemas where missing (a first start, or one interrupted
        half-way); bring the schemas to this server's version every start."""
        host, port, user, password = self._database_server()
        tool = temporal_binary("temporal-sql-tool")
        env = {**os.environ, "SQL_PASSWORD": password}
        for database, schema in TEMPORAL_DATABASES.items():
            base = [str(tool), "--plugin", "postgres12", "--ep", host, "-p", str(port), "-u", user, "--db", database]
            steps = []
            if not self._database_exists(database):
                steps.append([*base, "create-database"])
            if not self._schema_installed(database):
                steps.append([*base, "setup-schema", "-v", "0.0"])
            versioned = TEMPORAL_SERVER_DIR / "schema" / "postgresql" / "v12" / schema / "versioned"
            steps.append([*base, "update-schema", "-d", str(versioned)])
            for step in steps:
                result = subprocess.run(step, env=env, capture_output=True, text=True)
                if result.returncode != 0:
                    raise StackError(f"temporal-sql-tool {' '.join(step[len(base) :])} on {database} failed:\n"
                                     f"{result.stdout}{result.stderr}")  # fmt: skip

    def start_temporal_service(self, service: str) -> None:
        config_dir = self.config.temporal_config_dir
        self._write_temporal_config(service)
        command = temporal_service_command(temporal_binary("temporal-server"), config_dir, service)
        self._spawn(f"temporal-{service}", command, to_console=False)
        ports = self.config.services[service]
        # The worker service serves no gRPC of its own: it is up once it listens for the membership ring.
        self._wait_for_port(f"temporal-{service}", ports.membership if service == "worker" else ports.grpc, timeout=60)

    def restart_postgres(self) -> None:
        assert self.postgres is not None, "the cluster runs on an existing PostgreSQL"
        self.postgres.start()
        assert self.postgres.process is not None
        self.processes["postgres"] = self.postgres.process

    def start_temporal(self) -> None:
        """The chaos scenarios restart "temporal": here that is every service of the cluster not running."""
        for service in TEMPORAL_SERVICES:
            if f"temporal-{service}" not in self.processes:
                self.start_temporal_service(service)

    def prepare_namespace(self, timeout: float = 90) -> None:
        # A thread of its own: the benchmark starts the stack from inside its event loop.
        with ThreadPoolExecutor(max_workers=1) as thread:
            thread.submit(
                asyncio.run, _prepare_namespace(self.config.address, self.config.temporal_namespace, timeout)
            ).result()

    # ----------------------------------------------------------------------------- helpers

    def _database_server(self) -> tuple[str, int, str, str]:
        """Host, port, user and password of the PostgreSQL that Temporal and the read model share."""
        if self.postgres is not None:
            return "127.0.0.1", self.config.postgres_port, SUPERUSER, self.postgres.password
        if self.config.database_url is not None:
            url = make_url(self.config.database_url)
            if url.get_backend_name() != "postgresql":
                raise StackError("the cluster topology keeps Temporal on PostgreSQL: DATABASE_URL must name one")
            return url.host or "127.0.0.1", url.port or 5432, url.username or "", url.password or ""
        return "127.0.0.1", self.config.postgres_port, SUPERUSER, ""

    def _connect(self, database: str) -> psycopg.Connection:
        host, port, user, password = self._database_server()
        return psycopg.connect(host=host, port=port, user=user, password=password, dbname=database, autocommit=True)

    def _database_exists(self, name: str) -> bool:
        with self._connect("postgres") as connection:
            return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None

    def _schema_installed(self, database: str) -> bool:
        """The schema tool's own version table is there once setup-schema has run."""
        if not self._database_exists(database):
            return False
        with self._connect(database) as connection:
            row = connection.execute("SELECT to_regclass('schema_version')").fetchone()
            return row is not None and row[0] is not None

    def _write_temporal_config(self, service: str) -> None:
        host, port, user, password = self._database_server()
        ports = self.config.services[service]

        def datastore(database: str, connections: int) -> dict[str, object]:
            return {
                "sql": {
                    "pluginName": "postgres12",
                    "databaseName": database,
                    "connectAddr": f"{host}:{port}",
                    "connectProtocol": "tcp",
                    "user": user,
                    "password": password,
                    "maxConns": connections,
                    "maxIdleConns": connections,
                    "maxConnLifetime": "1h",
                }
            }

        config = {
            "log": {"stdout": True, "level": "warn"},
            "persistence": {
                "defaultStore": "default",
                "visibilityStore": "visibility",
                "numHistoryShards": HISTORY_SHARDS,
                "datastores": {"default": datastore("temporal", 20), "visibility": datastore("temporal_visibility", 5)},
            },
            "global": {
                "membership": {"maxJoinDuration": "30s", "broadcastAddress": "127.0.0.1"},
                "metrics": {
                    "prometheus": {
                        "framework": "tally",
                        "timerType": "histogram",
                        "listenAddress": f"127.0.0.1:{ports.metrics}",
                    }
                },
            },
            "services": {
                name: {
                    "rpc": {
                        "grpcPort": other.grpc,
                        "membershipPort": other.membership,
                        "bindOnLocalHost": True,
                        **({"httpPort": other.http} if other.http else {}),
                    }
                }
                for name, other in self.config.services.items()
            },
            "clusterMetadata": {
                "enableGlobalNamespace": False,
                "failoverVersionIncrement": 10,
                "masterClusterName": "active",
                "currentClusterName": "active",
                "clusterInformation": {
                    "active": {
                        "enabled": True,
                        "initialFailoverVersion": 1,
                        "rpcName": "frontend",
                        "rpcAddress": f"127.0.0.1:{self.config.services['frontend'].grpc}",
                    }
                },
            },
            "dcRedirectionPolicy": {"policy": "noop"},
            "dynamicConfigClient": {"filepath": str(self._write_dynamic_config()), "pollInterval": "10s"},
        }
        path = self.config.temporal_config_dir / f"{service}.yaml"
        path.touch(mode=0o600)  # it holds the database password
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    def _write_dynamic_config(self) -> Path:
        """Running services poll this file: it is replaced whole, and only when it changed."""
        path = self.config.temporal_config_dir / "dynamicconfig.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        wanted = (PROJECT_ROOT / "devstack" / "temporal-dynamicconfig.yaml").read_text()
        if not path.exists() or path.read_text() != wanted:
            draft = path.with_suffix(".yaml.new")
            draft.write_text(wanted)
            os.replace(draft, path)
        return path


async def _prepare_namespace(address: str, namespace: str, timeout: float) -> None:
    """Register the namespace and motcua's search attributes, then wait until the cluster serves the namespace."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    client = await _connect(address, deadline)
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=NAMESPACE_RETENTION)
        )
        log.info("registered namespace %s", namespace)
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    while True:
        try:
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            await ensure_search_attributes(client, namespace)
            namespaced = await Client.connect(address, namespace=namespace)
            await namespaced.count_workflows()
            return
        except RPCError as exc:
            if loop.time() > deadline:
                raise StackError(f"namespace {namespace} not served within {timeout}s: {exc}") from exc
            await asyncio.sleep(0.5)


async def _connect(address: str, deadline: float) -> Client:
    loop = asyncio.get_running_loop()
    while True:
        try:
            return await Client.connect(address)
        except RuntimeError as exc:
            if loop.time() > deadline:
                raise StackError(f"Temporal's frontend at {address} did not answer: {exc}") from exc
            await asyncio.sleep(0.5)
