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

from connectors.redaction import install_log_redaction, redact
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
