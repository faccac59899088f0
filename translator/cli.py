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
