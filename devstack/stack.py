"""The embedded stack: Temporal dev server, agency simulator, worker and API as child processes.

`make run` and the test suite start the same stack, so what the tests prove is what runs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import yaml

from domain.deployment_order import deployment_order
from infrastructure.settings import PROJECT_ROOT, Settings
from infrastructure.temporal import SEARCH_ATTRIBUTES
from infrastructure.tokens import TokenIssuer

log = logging.getLogger("motcua.devstack")
# Every uvicorn the stack starts turns Nagle off on its connections (see api/serving.py).
HTTP_PROTOCOL = "api.serving:NoDelayHttpToolsProtocol"


class StackError(RuntimeError):
    pass


# The commands each process runs; deploy/'s systemd units hold the same (tests/test_deployment_units.py).


def worker_command() -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "worker.py")]


def uvicorn_command(app: str, port: int, processes: int = 1, host: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", app,
        "--host", host, "--port", str(port),
        "--log-level", "warning", "--no-access-log", "--http", HTTP_PROTOCOL,
        *(["--workers", str(processes)] if processes > 1 else []),
    ]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_temporal_cli() -> Path:
    """A `temporal` on PATH wins; otherwise the one the project's setup compiled into .tools/bin."""
    on_path = shutil.which("temporal")
    if on_path:
        return Path(on_path)
    built = PROJECT_ROOT / ".tools" / "bin" / "temporal"
    if built.exists():
        return built
    raise StackError("Temporal CLI not found: run `make temporal-cli` (it compiles temporal v1.5.1 with go install)")


@dataclass
class StackConfig:
    data_dir: Path
    api_port: int = 8000
    simulator_port: int = 8100
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    temporal_address: str | None = None  # an existing cluster: no dev server is started
    temporal_namespace: str = "default"
    database_url: str | None = None
    temporal_ui: bool = True
    console_logs: bool = False  # worker and API log to the console (make run) or to files (tests)
    portal_api_key: str = "dev-portal-key"  # shared by the API and the simulator's portal (development only)
    agency_callback_key: str = "dev-agency-key"  # the simulator's agencies answer later with it (development only)
    # The simulator's payment platform signs its confirmations with it (development only).
    payment_platform_secret: str = "dev-payment-platform-secret"
    extra_env: dict[str, str] = field(default_factory=dict)
    # API processes behind one port (uvicorn's --workers): polling is CPU-bound Python, one core per process.
    api_processes: int = 1
    # Workflow tasks in one worker process, activities in another, each with an interpreter of its own.
    split_worker: bool = False
    # Development only: this officer id holds the administrator role (production sets its own, or none).
    bootstrap_administrator: str = "admin"
    # The OpenID Connect providers (OIDC_PROVIDERS): Keycloak's realms under `make run` (devstack/oidc_server.py),
    # through which browsers sign in; none for the plain test stack.
    login_providers: list[dict[str, str]] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.simulator_port}"

    @property
    def temporal_ui_url(self) -> str | None:
        if self.temporal_address or not self.temporal_ui:
            return None
        return f"http://127.0.0.1:{self.temporal_ui_port}"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'motcua.sqlite3'}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "TEMPORAL_ADDRESS": self.address,
                "TEMPORAL_NAMESPACE": self.temporal_namespace,
                "DATABASE_URL": self.sqlalchemy_url,
                "DATA_DIR": str(self.data_dir),
                "PORTAL_BASE_URL": f"{self.simulator_url}/portal",
                "POPULATION_BASE_URL": f"{self.simulator_url}/population",
                "AGENCY_SYSTEMS_BASE_URL": f"{self.simulator_url}/systems",
                "ENVIRONMENT": "development",
                "BOOTSTRAP_ADMINISTRATOR": self.bootstrap_administrator,
                # Keycloak's realms under `make run`; none for the test stack, whose tests use motcua's own issuer.
                "OIDC_PROVIDERS": json.dumps(self.login_providers),
                "RESULT_STORE_BASE_URL": f"{self.simulator_url}/result-store",
                "PUBLIC_BASE_URL": self.api_url,
                "PORTAL_API_KEY": self.portal_api_key,
                "AGENCY_CALLBACK_KEY": self.agency_callback_key,
                "PAYMENT_PLATFORM_BASE_URL": f"{self.simulator_url}/payment-platform",
                "PAYMENT_PLATFORM_SECRET": self.payment_platform_secret,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.metrics_ports: dict[str, int] = {}  # worker processes' Prometheus endpoints
        self.temporal_metrics_port = free_port()  # the dev server's
        self._logs: dict[str, IO[bytes]] = {}

    # ------------------------------------------------------------------------------- parts

    def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.config.temporal_address is None:
                self.start_temporal()
            self.start_simulator()
            self.start_worker()
            self.start_api()
        except BaseException:
            self.stop()
            raise

    def start_temporal(self) -> None:
        cli = find_temporal_cli()
        cmd = [
            str(cli), "server", "start-dev",
            "--ip", "127.0.0.1",
            "--port", str(self.config.temporal_port),
            "--db-filename", str(self.config.data_dir / "temporal.sqlite3"),
            # A write-ahead log with a full sync: still one fsync per commit (nothing acknowledged is lost,
            # even on power loss), but no rollback journal to write and sync besides the database, so the dev
            # server carries more workflows.
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=full",
            # An activity a workflow task schedules comes back with that task's completion when the worker has
            # room for it, instead of through the matching service: less server CPU per dossier, and a
            # decision's read-model write starts at once.
            "--dynamic-config-value", "system.enableActivityEagerExecution=true",
            "--namespace", self.config.temporal_namespace,
            "--log-level", "warn",
            "--metrics-port", str(self.temporal_metrics_port),
        ]  # fmt: skip
        if self.config.temporal_ui:
            cmd += ["--ui-port", str(self.config.temporal_ui_port)]
        else:
            cmd += ["--headless"]
        for name in SEARCH_ATTRIBUTES:
            cmd += ["--search-attribute", f"{name}=Keyword"]
        self._spawn("temporal", cmd, to_console=False)
        self._wait_for_port("temporal", self.config.temporal_port, timeout=60)

    def start_simulator(self) -> None:
        self._spawn("simulator", self._uvicorn("simulator.app:app", self.config.simulator_port), to_console=False)
        self._wait_for_http("simulator", f"{self.config.simulator_url}/health")

    def start_worker(self, name: str = "worker") -> None:
        """A worker; with split_worker, one process for workflow tasks and another for activities. Each serves the
        Temporal SDK's metrics on a port of its own (`metrics[name]`)."""
        command = worker_command()
        processes = {name: "all"}
        if self.config.split_worker:
            processes = {
                name: "workflows",
                "activity-worker" if name == "worker" else f"{name}-activities": "activities",
            }
        for process, tasks in processes.items():
            port = self.metrics_ports.setdefault(process, free_port())
            env = {"WORKER_TASKS": tasks, "WORKER_METRICS_ADDRESS": f"127.0.0.1:{port}"}
            self._spawn(process, command, to_console=self.config.console_logs, env=env)

    def start_api(
        self,
        name: str = "api",
        port: int | None = None,
        processes: int | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        """Start an API process (a second one shares the database and Temporal), with `env` over the stack's settings;
        return its URL."""
        port = port or self.config.api_port
        processes = processes or self.config.api_processes
        command = self._uvicorn("api.main:app", port, processes=processes)
        env = dict(env or {})
        if processes > 1:
            # Processes sharing one port share their metrics through files, so that a scrape sees all of them.
            shared = self.config.data_dir / "metrics" / name
            shutil.rmtree(shared, ignore_errors=True)
            shared.mkdir(parents=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
        self._spawn(name, command, to_console=self.config.console_logs, env=env)
        url = f"http://127.0.0.1:{port}"
        self._wait_for_http(name, f"{url}/health")
        return url

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(timeout=30)
        if name in self._logs:
            self._logs.pop(name).close()

    # The dev server and PostgreSQL stop at once (and cleanly) on SIGINT; SIGTERM asks PostgreSQL to wait for every
    # client to leave.
    STOP_SIGNALS = {"temporal": signal.SIGINT, "postgres": signal.SIGINT}

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            process = self.processes.pop(name)
            if process.poll() is None:
                process.send_signal(self.STOP_SIGNALS.get(name, signal.SIGTERM))
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop in time; killing it", name)
                    process.kill()
                    process.wait()
        for handle in self._logs.values():
            handle.close()
        self._logs.clear()

    def dead(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def log_path(self, name: str) -> Path:
        return self.config.log_dir / f"{name}.log"

    # ----------------------------------------------------------------------------- helpers

    def _uvicorn(self, app: str, port: int, processes: int = 1) -> list[str]:
        return uvicorn_command(app, port, processes)

    def _spawn(self, name: str, cmd: list[str], *, to_console: bool, env: dict[str, str] | None = None) -> None:
        """Start a process whose output goes to its log file in the log folder, and to the console as well when
        `to_console` (make run's worker and API)."""
        log_file = self._logs[name] = open(self.log_path(name), "ab")  # noqa: SIM115
        log.info("starting %s", name)
        process = self.processes[name] = subprocess.Popen(
            cmd,
            cwd=PROJECT_ROOT,
            env={**self.config.env(), **(env or {})},
            stdout=subprocess.PIPE if to_console else log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if to_console:
            assert process.stdout is not None
            threading.Thread(target=_tee, args=(process.stdout, log_file), name=f"log-{name}", daemon=True).start()

    def _check_alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            tail = ""
            if self.log_path(name).exists():
                tail = "\n".join(self.log_path(name).read_text(errors="replace").splitlines()[-30:])
            raise StackError(f"{name} exited with code {process.returncode}\n{tail}")

    def _wait_for_port(self, name: str, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        raise StackError(f"{name} did not open port {port} within {timeout}s")

    def _wait_for_http(self, name: str, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise StackError(f"{name} did not answer {url} within {timeout}s")


def _tee(output: IO[bytes], log_file: IO[bytes]) -> None:
    """Copy a process's output, line by line, to the console and to its log file, until the process ends."""
    for line in iter(output.readline, b""):
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
        try:
            log_file.write(line)
            log_file.flush()
        except ValueError:  # the stack closed the file: the process is being stopped
            pass
    output.close()


def administrator_token(config: StackConfig) -> str:
    """A token of the stack's bootstrap administrator, minted with its own issuer (development only)."""
    return TokenIssuer(Settings(data_dir=config.data_dir)).issue_officer(config.bootstrap_administrator)


def procedure_files(folder: Path) -> list[Path]:
    """The definitions in `folder`, in the order they deploy: each procedure after the child procedures it
    starts in other agencies (deploy refuses a parent whose child is unknown), whatever the file names."""
    paths = sorted(folder.glob("*.yaml"))
    return deployment_order([(path, yaml.safe_load(path.read_text(encoding="utf-8"))) for path in paths])


def deploy_procedures(api_url: str, folder: Path, token: str) -> list[dict[str, object]]:
    """Deploy every shipped definition through the public API, as an administrator would."""
    deployed = []
    for path in procedure_files(folder):
        response = httpx.post(
            f"{api_url}/procedures",
            content=path.read_bytes(),
            headers={"Content-Type": "application/yaml", "Authorization": f"Bearer {token}"},
            timeout=30,
        )
        if response.status_code not in (200, 201):
            raise StackError(f"deploying {path.name} failed: {response.status_code} {response.text}")
        deployed.append(response.json())
    return deployed
