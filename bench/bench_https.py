"""``$https`` enrichment: documents per second with a pool of 32 requests in flight against
one request at a time, same run, against a local server that answers after 20 ms.

The pipeline goes through ``sluice process``'s path (a documents source, ``$https`` with
``as``, a pass-through stage); only the connection's ``poolSize`` differs. Goal (issue 15):
pool of 32 ≥ 20× the sequential rate.

    python bench/bench_https.py [--docs 3200] [--sequential-docs 100] [--delay 0.02]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from translator import process
from translator.connections import parse_registry
from translator.parse import parse_pipeline


def serve(delay: float, ports: multiprocessing.Queue) -> None:
    """The remote service, in its own process so it does not share the client's interpreter."""

    class Slow(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real API

        def log_message(self, *args) -> None:
            pass

        def setup(self) -> None:
            super().setup()  # no Nagle: headers and body leave at once, no delayed-ACK stalls
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            time.sleep(delay)
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # room for the pool's connections arriving at once
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Slow)
    ports.put(server.server_address[1])
    server.serve_forever()


class _Count(StatelessSinkPartition):
    def __init__(self, counter: list) -> None:
        self.counter = counter

    def write_batch(self, chunks: list) -> None:
        self.counter[0] += sum(len(chunk) for chunk in chunks)


class CountSink(DynamicSink):
    def __init__(self) -> None:
        self.counter = [0]

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Count:
        return _Count(self.counter)


def rate(url: str, docs: int, pool: int) -> float:
    registry = parse_registry({"connections": {"api": {"type": "https", "url": url, "poolSize": pool}}})
    pipeline = [
        {"$source": {"documents": [{"_id": i, "user": f"u{i}"} for i in range(docs)]}},
        {"$https": {"connectionName": "api", "path": {"$concat": ["/users/", "$user"]}, "as": "profile"}},
        {"$match": {"profile.ok": True}},
    ]
    sink = CountSink()
    started = time.perf_counter()
    process(parse_pipeline(pipeline), registry, sink, io.StringIO())
    elapsed = time.perf_counter() - started
    assert sink.counter[0] == docs, f"expected {docs} enriched documents, got {sink.counter[0]}"
    return docs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=3200)
    parser.add_argument("--sequential-docs", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.02)
    args = parser.parse_args()
    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.delay, ports), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}"
    try:
        sequential = rate(url, args.sequential_docs, 1)
        pooled = rate(url, args.docs, 32)
    finally:
        server.terminate()
    print(f"server delay {args.delay * 1000:.0f} ms")
    print(f"one at a time: {sequential:8.1f} docs/s")
    print(f"pool of 32:    {pooled:8.1f} docs/s")
    print(f"ratio: {pooled / sequential:.1f}x (goal >= 20x)")


if __name__ == "__main__":
    main()
