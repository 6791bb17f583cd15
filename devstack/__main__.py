"""`python -m devstack run`: the whole product on embedded defaults, stopped cleanly with Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

from devstack.stack import Stack, StackConfig, StackError, administrator_token, deploy_procedures
from infrastructure.settings import PROJECT_ROOT, get_settings


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    config = StackConfig(
        data_dir=Path(settings.data_dir),
        api_port=args.api_port,
        simulator_port=args.simulator_port,
        temporal_address=settings.temporal_address,
        temporal_namespace=settings.temporal_namespace,
        database_url=settings.database_url,
        console_logs=True,
        api_processes=args.api_processes,
        **({"portal_api_key": settings.portal_api_key.get_secret_value()} if settings.portal_api_key else {}),
    )
    stack = Stack(config)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        deployed = deploy_procedures(config.api_url, PROJECT_ROOT / "procedures", administrator_token(config))
    except StackError as exc:
        stack.stop()
        print(f"\nmotcua could not start: {exc}", file=sys.stderr)
        return 1

    procedures = ", ".join(f"{d['code']} v{d['version']}" for d in deployed)
    print(
        "\n"
        "motcua is running\n"
        f"  API            {config.api_url}   (docs: {config.api_url}/docs; {config.api_processes} processes)\n"
        f"  Temporal       {config.address}   namespace {config.temporal_namespace}\n"
        f"  Temporal UI    {config.temporal_ui_url or '(external cluster: its own UI)'}\n"
        f"  Simulator      {config.simulator_url}   (recorded calls: {config.simulator_url}/_sim/calls)\n"
        f"  Read model     {config.sqlalchemy_url}\n"
        f"  Data folder    {config.data_dir}   (logs in {config.log_dir})\n"
        f"  Procedures     {procedures}\n"
        f"  Administrator  {config.bootstrap_administrator}: "
        f"export MOTCUA_TOKEN=$(.venv/bin/motcua-admin token officer {config.bootstrap_administrator})\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
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
        print("stopped.", flush=True)


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
    parser = argparse.ArgumentParser(prog="motcua-dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start the whole stack on embedded defaults")
    run_parser.add_argument("--api-port", type=int, default=8000)
    run_parser.add_argument("--simulator-port", type=int, default=8100)
    run_parser.add_argument(
        "--api-processes",
        type=positive_count,
        default=default_api_processes(),
        help="API processes behind the one port (default: one per core, at most 4)",
    )
    args = parser.parse_args()
    sys.exit(run(args))


if __name__ == "__main__":
    main()
