"""The stats as Prometheus metrics, read from the counters at scrape time.

Nothing is counted twice: a scrape sums the same per-worker counters the stats document
does, so the two always agree. One endpoint per process; a cluster's processes each serve
their own port.
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from runtime.stats import SINK, FlowStats, stage_counts


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9100`` for IPv6) from ``SLUICE_METRICS_ADDR``."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        msg = f"SLUICE_METRICS_ADDR: expected HOST:PORT, such as 127.0.0.1:9100; got {address!r}"
        raise ValueError(msg)
    return host.strip("[]") or "0.0.0.0", int(port)


class StatsCollector:
    """A prometheus-client collector over one flow's counters."""

    def __init__(self, stats: FlowStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats
        name, stages = stats.name, stats.stages
        workers = stats.workers()
        per_worker = {
            "input_messages": "documents that passed $source",
            "output_messages": "documents that passed the whole pipeline",
            "dlq_messages": "documents sent to the dead-letter queue",
            "input_bytes": "bytes the source received",
            "output_bytes": "bytes the sink wrote",
            "dlq_bytes": "bytes of dead-letter records, as BSON",
        }
        families = {key: CounterMetricFamily(f"sluice_{key}", text, labels=["processor", "worker"]) for key, text in per_worker.items()}
        stage_messages = CounterMetricFamily(
            "sluice_stage_messages", "documents per stage", labels=["processor", "stage", "direction", "worker"]
        )
        stage_seconds = CounterMetricFamily(
            "sluice_stage_seconds", "seconds spent in each stage", labels=["processor", "stage", "worker"]
        )
        state_bytes = GaugeMetricFamily("sluice_state_bytes", "bytes of state a stage holds", labels=["processor", "stage", "worker"])
        for worker in workers:
            labels = [name, str(worker.index)]
            sink_dlq = worker.dlq[stages[-1].index] if stages and stages[-1].role == SINK else 0
            values = {
                "input_messages": worker.into[0] if stages else 0,
                "output_messages": worker.output_count - sink_dlq,
                "dlq_messages": sum(worker.dlq),
                "input_bytes": worker.input_bytes,
                "output_bytes": worker.output_bytes,
                "dlq_bytes": sum(worker.dlq_bytes),
            }
            for key, value in values.items():
                families[key].add_metric(labels, value)
            for stage in stages:
                for direction, count in zip(("in", "out", "dlq"), stage_counts(stage, worker)):
                    stage_messages.add_metric([name, stage.label, direction, labels[1]], count)
                stage_seconds.add_metric([name, stage.label, labels[1]], worker.seconds[stage.index])
                state_bytes.add_metric([name, stage.label, labels[1]], worker.state[stage.index])
        yield from families.values()
        yield from (stage_messages, stage_seconds, state_bytes)
        yield from self._positions(workers)

    def _positions(self, workers: list) -> Iterator[Metric]:
        name = self.stats.name
        watermarks = [w for worker in workers for w in worker.watermark if w is not None]
        if watermarks:
            watermark = GaugeMetricFamily("sluice_watermark_timestamp_seconds", "the processor's watermark", labels=["processor"])
            watermark.add_metric([name], min(watermarks).timestamp())
            yield watermark
        offsets = GaugeMetricFamily(
            "sluice_kafka_partition_offset", "Kafka source offsets", labels=["processor", "topic", "partition", "kind"]
        )
        lags = GaugeMetricFamily(
            "sluice_kafka_partition_lag", "messages between the offset read and the partition's end", labels=["processor", "topic", "partition"]
        )
        for worker in workers:
            for (topic, partition), (current, checkpoint, high) in list(worker.kafka.items()):
                for kind, value in (("current", current), ("checkpoint", checkpoint)):
                    if value is not None:
                        offsets.add_metric([name, topic, str(partition), kind], value)
                if high is not None and current is not None and high >= current:
                    lags.add_metric([name, topic, str(partition)], high - current)
        yield offsets
        yield lags
        change_lags = [worker.change_stream_lag for worker in workers if worker.change_stream_lag is not None]
        if change_lags:
            lag = GaugeMetricFamily(
                "sluice_change_stream_lag_seconds", "seconds between a change event and its processing", labels=["processor"]
            )
            lag.add_metric([name], max(change_lags))
            yield lag


def serve_metrics(stats: FlowStats, host: str, port: int) -> None:
    """Serve ``/metrics`` for ``stats`` from a daemon thread of this process."""
    registry = CollectorRegistry()
    registry.register(StatsCollector(stats))
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        msg = f"SLUICE_METRICS_ADDR: cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
        raise ValueError(msg) from None
