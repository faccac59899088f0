"""The instance's ``/metrics`` (every processor, the stats issue's series) and ``/healthz``.

The series and labels are those of :mod:`runtime.metrics`, read here from the stats document
each process of a processor writes (contract C1) rather than from live counters: ``worker`` is
the process's index in its cluster.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# (processor name, [(process index, its stats document)]) for every processor
Sources = Callable[[], list[tuple[str, list[tuple[int, dict]]]]]
TOTALS = {
    "input_messages": ("inputMessageCount", "documents that passed $source"),
    "output_messages": ("outputMessageCount", "documents that passed the whole pipeline"),
    "dlq_messages": ("dlqMessageCount", "documents sent to the dead-letter queue"),
    "input_bytes": ("inputMessageSize", "bytes the source received"),
    "output_bytes": ("outputMessageSize", "bytes the sink wrote"),
    "dlq_bytes": ("dlqMessageSize", "bytes of dead-letter records, as BSON"),
}


class ProcessorsCollector:
    def __init__(self, sources: Sources) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        totals = {key: CounterMetricFamily(f"sluice_{key}", text, labels=["processor", "worker"]) for key, (_, text) in TOTALS.items()}
        stage_messages = CounterMetricFamily(
            "sluice_stage_messages", "documents per stage", labels=["processor", "stage", "direction", "worker"]
        )
        stage_seconds = CounterMetricFamily("sluice_stage_seconds", "seconds spent in each stage", labels=["processor", "stage", "worker"])
        state_bytes = GaugeMetricFamily("sluice_state_bytes", "bytes of state a stage holds", labels=["processor", "stage", "worker"])
        watermark = GaugeMetricFamily("sluice_watermark_timestamp_seconds", "the processor's watermark", labels=["processor"])
        offsets = GaugeMetricFamily(
            "sluice_kafka_partition_offset", "Kafka source offsets", labels=["processor", "topic", "partition", "kind"]
        )
        for name, documents in self._sources():
            marks = [doc["watermark"] for _, doc in documents if doc.get("watermark") is not None]
            if marks:
                watermark.add_metric([name], min(marks).timestamp())
            for index, doc in documents:
                worker = str(index)
                for key, (field, _) in TOTALS.items():
                    totals[key].add_metric([name, worker], doc.get(field) or 0)
                for position, entry in enumerate(doc.get("operatorStats") or []):
                    stage = f"{position}:{entry.get('name')}"
                    for direction, field in (("in", "inputMessageCount"), ("out", "outputMessageCount"), ("dlq", "dlqMessageCount")):
                        stage_messages.add_metric([name, stage, direction, worker], entry.get(field) or 0)
                    stage_seconds.add_metric([name, stage, worker], entry.get("executionTime") or 0)
                    state_bytes.add_metric([name, stage, worker], entry.get("stateSize") or 0)
                for partition in doc.get("kafkaPartitions") or []:
                    for kind in ("current", "checkpoint"):
                        value = partition.get(f"{kind}Offset")
                        if value is not None:
                            offsets.add_metric([name, str(partition.get("topic")), str(partition["partition"]), kind], value)
        yield from totals.values()
        yield from (stage_messages, stage_seconds, state_bytes, watermark, offsets)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not worth a line each on the instance's stderr."""


class MetricsServer:
    """``/metrics`` and ``/healthz`` over HTTP, from a daemon thread."""

    def __init__(self, address: tuple[str, int], sources: Sources) -> None:
        registry = CollectorRegistry()
        registry.register(ProcessorsCollector(sources))
        metrics = make_wsgi_app(registry)

        def app(environ: dict, start_response: Callable) -> list[bytes]:
            if environ.get("PATH_INFO") == "/healthz":
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"ok\n"]
            return metrics(environ, start_response)

        host, port = address
        self._server: WSGIServer = make_server(host, port, app, handler_class=_QuietHandler)
        self.url = f"http://{host}:{self._server.server_port}/metrics"

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, name="sluice-metrics", daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
