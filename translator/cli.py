"""The ``sluice`` command: validate, translate and process pipeline files.

Exit codes: 0 success, 2 a bad pipeline or registry (one clear message, no traceback),
1 a failure while running, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys

from connectors.mongodb_support import redact
from runtime.stats import dumps as stats_json
from translator import plan, process
from translator.connections import load_registry
from translator.errors import TranslateError
from translator.explain import explain, mermaid
from translator.parse import load_pipeline


def _load(args: argparse.Namespace):
    connections = args.connections or os.environ.get("SLUICE_CONNECTIONS")
    registry = load_registry(connections) if connections else None
    return load_pipeline(args.pipeline), registry


def cmd_validate(args: argparse.Namespace) -> int:
    pipeline, registry = _load(args)
    plans = plan(pipeline, registry)
    print(f"{args.pipeline}: valid ({len(plans)} stages)")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    pipeline, registry = _load(args)
    plans = plan(pipeline, registry)
    print(mermaid(plans) if args.graph else explain(plans))
    return 0


def _print_stats(doc: dict) -> None:
    print(f"stats: {stats_json(doc)}", file=sys.stderr, flush=True)


def cmd_process(args: argparse.Namespace) -> int:
    pipeline, registry = _load(args)
    wanted = args.stats or args.stats_interval is not None
    process(pipeline, registry, on_stats=_print_stats if wanted else None, stats_interval=args.stats_interval)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """``sluice serve``: the stream processing instance, or ``--add-user`` to write its users file."""
    # Imported here: the other subcommands need neither the server nor the supervisor.
    import asyncio
    import getpass
    import logging

    from instance import scram
    from instance.server import Server, serve, ssl_context
    from instance.service import Instance

    if args.add_user is not None:
        if not args.auth:
            print("sluice serve: --add-user needs --auth USERS_FILE", file=sys.stderr)
            return 2
        prompt = f"password for {args.add_user}: "
        password = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        try:
            scram.add_user(args.auth, args.add_user, password)
        except scram.UsersFileError as exc:
            print(f"sluice serve: {exc}", file=sys.stderr)
            return 2
        print(f"sluice serve: user {args.add_user} written to {args.auth}", file=sys.stderr)
        return 0
    if not args.connections or not args.data:
        print("sluice serve: --connections FILE and --data DIR are required", file=sys.stderr)
        return 2
    if (args.tls_cert is None) != (args.tls_key is None):
        print("sluice serve: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="sluice serve: %(message)s")
    registry = load_registry(args.connections)
    try:
        users = scram.load_users(args.auth) if args.auth else None
    except scram.UsersFileError as exc:
        print(f"sluice serve: {exc}", file=sys.stderr)
        return 2
    try:
        tls = ssl_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    except (OSError, ValueError) as exc:
        print(f"sluice serve: cannot load the TLS certificate and key: {exc}", file=sys.stderr)
        return 2
    metrics = (args.host, args.metrics_port) if args.metrics_port is not None else None
    instance = Instance(registry, args.data, metrics)
    try:
        return asyncio.run(serve(instance, Server(instance, args.host, args.port, users, tls)))
    except OSError as exc:
        print(f"sluice serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        msg = f"expected a positive number of seconds; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sluice", description="Atlas Stream Processing pipelines on Bytewax")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, help_text in (
        ("validate", cmd_validate, "check a pipeline; exit 2 with the problems if it is malformed"),
        ("translate", cmd_translate, "print the plan: stages, Bytewax steps, fusion"),
        ("process", cmd_process, "run a pipeline, printing output documents (like sp.process)"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("pipeline", help="pipeline file: an array of stages or {name, pipeline, options}")
        sub.add_argument("--connections", help="connection registry file (default: $SLUICE_CONNECTIONS)")
        sub.set_defaults(handler=handler)
        if name == "translate":
            sub.add_argument("--graph", action="store_true", help="print a Mermaid diagram of the dataflow")
        if name == "process":
            sub.add_argument("--stats", action="store_true", help="print the stats document on stderr when the run ends")
            sub.add_argument("--stats-interval", type=_positive_seconds, metavar="SECONDS", help="also print it every SECONDS")
    serve = commands.add_parser("serve", help="run the stream processing instance that mongosh's sp drives")
    serve.add_argument("--connections", help="connection registry file")
    serve.add_argument("--data", help="directory of processor definitions, states and checkpoints")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    serve.add_argument("--port", type=int, default=27500, help="MongoDB wire port (default 27500)")
    serve.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics and /healthz on this port")
    serve.add_argument("--auth", metavar="USERS_FILE", help="require SCRAM-SHA-256 for the users of this file")
    serve.add_argument("--add-user", metavar="NAME", help="add NAME to the --auth file (password on stdin) and exit")
    serve.add_argument("--tls-cert", help="PEM certificate (chain) to serve TLS with")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.set_defaults(handler=cmd_serve)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except TranslateError as exc:
        print(f"sluice: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
