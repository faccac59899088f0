"""The ``sluice`` command: validate, translate and process pipeline files.

Exit codes: 0 success (also when stdout is closed early, as by ``| head``), 2 a bad pipeline
or registry (one clear message, no traceback), 1 a failure while running (one line; an
internal bug says so, and ``SLUICE_DEBUG=1`` adds the traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterator

from runtime.redaction import install_log_redaction, redact
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
    print(redact(mermaid(plans) if args.graph else explain(plans)))
    return 0


def _print_stats(doc: dict) -> None:
    print(f"stats: {stats_json(doc)}", file=sys.stderr, flush=True)


def cmd_process(args: argparse.Namespace) -> int:
    pipeline, registry = _load(args)
    wanted = args.stats or args.stats_interval is not None
    with _rust_panics_hidden():
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


_PANIC = re.compile(rb"thread '.*' panicked at ")
_PANIC_DETAIL = re.compile(rb"(\s|stack backtrace:|note: |Traceback|Box<dyn Any>)")


@contextlib.contextmanager
def _rust_panics_hidden() -> Iterator[None]:
    """Bytewax turns an error raised in a step into a Rust panic whose hook writes "thread ...
    panicked at" (and a backtrace under RUST_BACKTRACE) straight to file descriptor 2; the
    error itself reaches Python and becomes one line. Everything else on stderr passes."""
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    stderr = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        skipping = False
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if _PANIC.match(line):
                    skipping, first = True, True
                    continue
                if skipping and (first or _PANIC_DETAIL.match(line)):
                    first = False
                    continue
                skipping = False
                os.write(stderr, line)

    forwarder = threading.Thread(target=forward, name="stderr-without-panics", daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(stderr, 2)  # closes the pipe's last write end: the forwarder reads to the end
        forwarder.join(timeout=10)
        os.close(stderr)


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
    install_log_redaction()
    try:
        return args.handler(args)
    except TranslateError as exc:
        message = str(exc)
        if not message.startswith((args.pipeline, str(args.connections))):
            message = f"{args.pipeline}: {message}"
        print(f"sluice: {_bounded(redact(message))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001  (the one place every failure becomes one line)
        return _failed(exc)


MAX_LINE = 2000  # a message quoting a megabyte of the pipeline is not a clear line


def _bounded(message: str) -> str:
    return "\n".join(line if len(line) <= MAX_LINE else f"{line[:MAX_LINE]}..." for line in message.split("\n"))


# What a running processor meets from outside (a server, a broker, the disk), not a bug of sluice.
_OUTSIDE_FAILURES = ("pymongo", "bson", "confluent_kafka")


def _root_cause(exc: BaseException) -> BaseException:
    """The first error raised, under the Bytewax errors that wrap it."""
    while (exc.__cause__ or exc.__context__) is not None:
        exc = exc.__cause__ or exc.__context__
    return exc


def _failed(exc: Exception) -> int:
    cause = _root_cause(exc)
    if isinstance(cause, BrokenPipeError):  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if isinstance(cause, KeyboardInterrupt):
        return 130
    if os.environ.get("SLUICE_DEBUG"):
        traceback.print_exception(exc)
    text = redact(f"{type(cause).__name__}: {cause}".splitlines()[0].partition(", full error: ")[0] if str(cause) else type(cause).__name__)
    outside = isinstance(cause, (OSError, ConnectionError)) or type(cause).__module__.startswith(_OUTSIDE_FAILURES)
    frames = traceback.extract_tb(cause.__traceback__)
    outside = outside or bool(frames and any(f"{os.sep}{name}{os.sep}" in frames[-1].filename for name in _OUTSIDE_FAILURES))
    if outside:
        print(f"sluice: processor failed: {text}", file=sys.stderr)
    else:
        print(f"sluice: internal error: {text} (run with SLUICE_DEBUG=1 for the traceback)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
