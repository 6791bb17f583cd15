"""`python -m devstack run`: the whole product on embedded defaults (or `--topology cluster`), stopped cleanly with
Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from devstack.cluster import ClusterConfig, ClusterStack
from devstack.demo_officers import DemoOfficer, describe, seed_demo_officers
from devstack.oidc_server import OidcServer
from devstack.stack import Stack, StackConfig, StackError, administrator_token, deploy_procedures
from infrastructure.settings import PROJECT_ROOT, get_settings


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    shared = {
        "simulator_port": args.simulator_port,
        "temporal_namespace": settings.temporal_namespace,
        "database_url": settings.database_url,
        **({"portal_api_key": settings.portal_api_key.get_secret_value()} if settings.portal_api_key else {}),
    }
    if args.topology == "cluster":
        config: StackConfig = ClusterConfig(
            data_dir=Path(settings.data_dir) / "cluster",
            api_ports=[args.api_port + n for n in range(args.api_processes or 2)],
            worker_processes=args.worker_processes,
            **shared,  # type: ignore[arg-type]
        )
        stack: Stack = ClusterStack(config)  # type: ignore[arg-type]
    else:
        config = StackConfig(
            data_dir=Path(settings.data_dir),
            api_port=args.api_port,
            temporal_address=settings.temporal_address,
            console_logs=True,
            api_processes=args.api_processes or default_api_processes(),
            **shared,  # type: ignore[arg-type]
        )
        stack = Stack(config)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    # Keycloak (the national SSO and VNeID, devstack/oidc_server.py) starts beside the other parts; nothing waits
    # for it (the API fetches Keycloak's discovery at the first login through it); once it is ready, its sign-outs are
    # pointed at the API and its issuers and logins are printed.
    oidc = None if args.topology == "cluster" or not args.oidc_port else OidcServer(
        config.data_dir / "keycloak", config.log_dir / "keycloak.log", port=args.oidc_port
    )  # fmt: skip
    try:
        if oidc:
            try:
                oidc.spawn()
                config.login_providers = oidc.login_providers()
            except StackError as exc:  # not installed (`make oidc-server`) or no Java 21: the rest runs without it
                print(f"no Keycloak: {exc}", file=sys.stderr)
                oidc = None
        stack.start()
        deployed = deploy_procedures(config.api_url, PROJECT_ROOT / "procedures", administrator_token(config))
        # Development only (this launcher runs nothing else): an officer per role and unit of the shipped procedures.
        officers, registered = seed_demo_officers(
            config.api_url, PROJECT_ROOT / "procedures", administrator_token(config)
        )
    except (StackError, httpx.HTTPError) as exc:
        stack.stop()
        if oidc:
            oidc.stop()
        print(f"\nmotcua could not start: {exc}", file=sys.stderr)
        return 1
    except BaseException:
        stack.stop()
        if oidc:
            oidc.stop()
        raise

    procedures = ", ".join(f"{d['code']} v{d['version']}" for d in deployed)
    if isinstance(stack, ClusterStack):
        print(cluster_banner(stack, procedures, officers_hint(officers, registered)), flush=True)
    else:
        oidc_line = f"  OIDC           Keycloak starting on {oidc.url}   (log: {oidc.log_file})\n" if oidc else ""
        print(
            "\n"
            "motcua is running\n"
            f"  API            {config.api_url}   (docs: {config.api_url}/docs; {config.api_processes} processes)\n"
            f"  Temporal       {config.address}   namespace {config.temporal_namespace}\n"
            f"  Temporal UI    {config.temporal_ui_url or '(external cluster: its own UI)'}\n"
            f"  Simulator      {config.simulator_url}   (recorded calls: {config.simulator_url}/_sim/calls)\n"
            f"  Read model     {config.sqlalchemy_url}\n"
            f"{metrics_line(stack)}"
            f"  Data folder    {config.data_dir}   (logs in {config.log_dir})\n"
            f"  Procedures     {procedures}\n"
            f"{administrator_hint(config)}"
            f"{officers_hint(officers, registered)}"
            f"{oidc_line}"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
    if oidc:
        threading.Thread(
            target=announce_oidc, args=(oidc, config.api_url, lambda: stopping), name="oidc", daemon=True
        ).start()
    try:
        while not stopping:
            dead = stack.dead()
            if dead:
                print(f"{', '.join(dead)} stopped unexpectedly; see {config.log_dir}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("stopping motcua …", flush=True)
        stack.stop()
        if oidc:
            oidc.stop()
        print("stopped.", flush=True)


def announce_oidc(oidc: OidcServer, api_url: str, stopping: Callable[[], bool]) -> None:
    try:
        oidc.wait_ready()
        oidc.send_sign_outs_to(api_url)
        print(f"Keycloak is ready\n{oidc.describe()}", flush=True)
    except (StackError, httpx.HTTPError) as exc:
        if not stopping():
            print(f"Keycloak did not start (the rest runs on): {exc}", file=sys.stderr, flush=True)


def administrator_hint(config: StackConfig) -> str:
    # The token is signed with the key in the stack's data folder, which the cluster keeps apart from `make run`'s.
    data_dir = "" if config.data_dir == get_settings().data_dir else f"DATA_DIR={config.data_dir} "
    return (
        f"  Administrator  {config.bootstrap_administrator}: "
        f"export MOTCUA_TOKEN=$(ENVIRONMENT=development {data_dir}.venv/bin/motcua-admin token officer "
        f"{config.bootstrap_administrator})\n"
    )


def officers_hint(officers: list[DemoOfficer], registered: list[DemoOfficer]) -> str:
    units = "".join(f"                 {line}\n" for line in describe(officers).splitlines())
    return (
        f"  Officers       {len(officers)} demo officers role@unit ({len(registered)} new), a token as above with the id "
        "(reception@H29.50.05.13):\n"
        f"{units}"
    )


def cluster_banner(stack: ClusterStack, procedures: str, officers: str = "") -> str:
    config = stack.config
    services = "\n".join(
        f"    {name:<9} gRPC {ports.grpc}  membership {ports.membership}  metrics http://127.0.0.1:{ports.metrics}/metrics"
        for name, ports in config.services.items()
    )
    apis = "   ".join(config.api_urls)
    password = f"   (password in {stack.postgres.password_file})" if stack.postgres else ""
    read_model = str(make_url(config.sqlalchemy_url).set(password=None)) if config.database_url else "-"
    return (
        "\n"
        "motcua is running on its cluster topology\n"
        f"  API processes  {apis}   (docs: {config.api_url}/docs)\n"
        f"  Workers        {config.worker_processes} processes on task queue {get_settings().task_queue}\n"
        f"  Temporal       frontend {config.address}   namespace {config.temporal_namespace}\n{services}\n"
        f"  PostgreSQL     127.0.0.1:{make_url(config.sqlalchemy_url).port}{password}\n"
        f"  Read model     {read_model}\n"
        f"  Simulator      {config.simulator_url}   (recorded calls: {config.simulator_url}/_sim/calls)\n"
        f"{metrics_line(stack)}"
        f"  Data folder    {config.data_dir}   (logs in {config.log_dir})\n"
        f"  Procedures     {procedures}\n"
        f"{administrator_hint(config)}"
        f"{officers}"
        "Press Ctrl-C to stop.\n"
    )


def metrics_line(stack: Stack) -> str:
    workers = "  ".join(f"{name} :{port}" for name, port in stack.metrics_ports.items())
    temporal = "" if isinstance(stack, ClusterStack) else f"   dev server :{stack.temporal_metrics_port}"
    return f"  Metrics        API {stack.config.api_url}/metrics   workers (/metrics) {workers}{temporal}\n"


def positive_count(text: str) -> int:
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {count}")
    return count


def default_api_processes() -> int:
    """One API process per core this process may run on: status polling and the inbox are CPU-bound Python, and
    one process runs on one core only. Four at most: the dev server, the worker and the simulator share them."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the launcher's readiness polls, one line each otherwise
    parser = argparse.ArgumentParser(prog="motcua-dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start the whole stack on embedded defaults")
    run_parser.add_argument(
        "--topology",
        choices=["embedded", "cluster"],
        default="embedded",
        help="embedded: Temporal's dev server and SQLite; cluster: Temporal's services as separate processes, "
        "PostgreSQL, several workers and API processes",
    )
    run_parser.add_argument("--worker-processes", type=positive_count, default=2, help="cluster: worker processes")
    run_parser.add_argument("--api-port", type=int, default=8000)
    run_parser.add_argument("--simulator-port", type=int, default=8100)
    run_parser.add_argument("--oidc-port", type=int, default=8180, help="embedded: Keycloak's port (0: no Keycloak)")
    run_parser.add_argument(
        "--api-processes",
        type=positive_count,
        default=None,
        help="embedded: API processes behind the one port (default: one per core, at most 4); cluster: API "
        "processes on ports from --api-port up (default: 2)",
    )
    args = parser.parse_args()
    sys.exit(run(args))


if __name__ == "__main__":
    main()
