"""Instructions per document of one fused stateless segment, for ``valgrind --tool=callgrind``.

Timing on a shared machine is noisy; instruction counts are not (with a fixed hash seed:
string hashes decide dict and set collisions). Run twice with different ``--docs`` and divide
the difference by the difference in documents (set-up cancels out)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/callgrind_segment.py --docs 20000
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/callgrind_segment.py --docs 40000

``--impl reference`` runs the per-stage runners (``build.fuse``), ``segment`` the generated
segment, ``loop`` the plain loop of ``bench_stateless.py``, ``none`` only generates the documents
(subtract it); ``--source`` adds the documents source's copy and stamping.
"""

from __future__ import annotations

import argparse
import gc
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stateless import STAGES, generate, plain_loop  # noqa: E402

from connectors.documents import DocumentsSource  # noqa: E402
from translator import plan  # noqa: E402
from translator.fusion import fuse  # noqa: E402
from translator.parse import parse_pipeline  # noqa: E402
from translator.segment import compile_segment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--impl", choices=("none", "reference", "segment", "loop"), default="segment")
    parser.add_argument("--stages", type=int, default=len(STAGES), help="only the first N stages")
    parser.add_argument("--source", action="store_true", help="include the documents source's copy and stamping")
    args = parser.parse_args()
    docs = generate(args.docs)
    gc.disable()
    if not args.source:  # documents as a source hands them over: stamped
        now = datetime.now(timezone.utc)
        meta = {"source": {"type": "generated"}}
        for doc in docs:
            doc["_ts"], doc["_stream_meta"] = now, meta
    if args.impl == "none":
        return
    if args.impl == "loop":
        plain_loop(docs)()
        return
    plans = plan(parse_pipeline([{"$source": {"documents": [{}]}}, *STAGES[: args.stages]], "bench"))[1:]
    run = fuse(plans) if args.impl == "reference" else compile_segment(plans)
    if not args.source:
        run([docs[i : i + 1000] for i in range(0, len(docs), 1000)])
        return
    part = DocumentsSource(docs).build_part("s", "documents", None)
    while True:
        try:
            run(part.next_batch())
        except StopIteration:
            break

if __name__ == "__main__":
    main()
