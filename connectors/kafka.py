"""Kafka ``$source`` and ``$emit`` through confluent-kafka, with offsets in Bytewax snapshots.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#apache-kafka-broker

The source subclasses Bytewax's ``KafkaSource`` and keeps its topic listing and its
partition naming (``"<partition>-<topic>"``); its resume state is the next offset and the
topic's id (a bare offset, as Bytewax's, is still read). It builds its own partition, because Bytewax's:
yields one ``KafkaSourceMessage`` dataclass per message (about 2 µs each, where a plain
consume-decode-produce loop spends 4-7 µs per message) and sluice needs one chunk of
decoded documents per batch;
raises on bad input where Atlas sends it to the DLQ; never commits to a consumer group,
so lag tools see nothing; and does not track partition idleness for watermarks.

The sink is ours too: Bytewax's ``KafkaSink`` flushes after every batch (a broker round
trip per batch) and ignores partitions. Ours produces asynchronously and flushes in
``snapshot()``, which Bytewax calls before it commits the epoch.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from bytewax.connectors.kafka import KafkaSource as _BytewaxKafkaSource
from bytewax.inputs import StatefulSourcePartition
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from runtime.dead_letters import DeadLetters, DeadLetterWriter, dead_letter, encode_within, reduced_record, stamp_processor
from runtime.ejson import MAX_DOCUMENT_BYTES, decode_document, loads_fast, size_error
from connectors.kafka_formats import (
    encode_relaxed,
    headers_from_value,
    headers_to_meta,
    key_decoder,
    key_encoder,
    normalize_offset_reset,
    raw_text,
    value_encoder,
)
from connectors.kafka_options import sink_options, source_options
from runtime.stop import end_partition_if_stopping
from runtime.stream_meta import STREAM_META, chunks, message_id
from runtime.stats import active_worker

__all__ = [
    "KafkaDeadLetterWriter",
    "KafkaSink",
    "KafkaSource",
]

log = logging.getLogger(__name__)

# Delivery failures worth producing again: the broker was unreachable, not unwilling.
_RETRY_CODES = frozenset(
    {KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN}
)
# Refusals that are about one record's size: that record is produced again, reduced.
_SIZE_ERRORS = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG_SIZE, KafkaError.RECORD_LIST_TOO_LARGE})
_DEFAULT_MESSAGE_MAX_BYTES = 1_000_000  # librdkafka's message.max.bytes
_FRAMING_BYTES = 1024
_REFUSED_PREFIX_CHARS = 4096
# On every message $emit produces from a document with _stream_meta: the same value for a
# replayed copy (runtime.stream_meta.message_id), so consumers can drop copies.
MESSAGE_ID_HEADER = "sluice-id"
_EMPTY_POLL_BACKOFF = timedelta(milliseconds=5)
_METADATA_TIMEOUT = 30.0
_FIRST_OFFSET = {"earliest": OFFSET_BEGINNING, "latest": OFFSET_END}
_FLUSH_STEP_SECONDS = 1.0


def _servers(config: dict) -> str:
    return str(config.get("bootstrap.servers", "?"))


class KafkaSource(_BytewaxKafkaSource):
    """Kafka topics as chunks of documents; one Bytewax partition per topic-partition.

    Delivery: input positions live in Bytewax snapshots (exactly-once input across
    recovery). After each snapshot the partition commits the offsets of the *previous*
    snapshot to the consumer group: Bytewax takes snapshot N only once snapshot N-1 is
    durable in the recovery store, so the group never runs ahead of recovery. On a first
    start (no snapshot) a partition begins at the group's committed offset, or at
    ``auto_offset_reset`` when the group has none.

    Each item is a list of documents carrying ``_ts`` and ``_stream_meta.source``;
    messages that cannot be read arrive as a ``DeadLetters`` chunk.
    """

    def __init__(
        self,
        config: dict,
        topics: str | Iterable[str],
        *,
        processor_name: str | None = None,
        group_id: str | None = None,
        auto_offset_reset: str | None = None,
        key_format: str = "binData",
        key_format_error: str = "dlq",
        time_field: Callable[[dict], datetime] | None = None,
        ts_field_name: str = "_ts",
        batch_size: int = 1000,
        tail: bool = True,
        commit_offsets: bool = True,
        start_at: datetime | None = None,
    ):
        """Check the options once, so a bad pipeline fails before any data moves.

        Args:
            config: confluent-kafka configuration, see :func:`connectors.kafka_options.client_config`.
            topics: one topic or several.
            processor_name: names the default consumer group ``sluice-<processor_name>``.
            group_id: consumer group to commit offsets to (Atlas ``config.group_id``).
            auto_offset_reset: where a first start without committed offsets begins:
                ``earliest``/``beginning``/``smallest`` or ``latest``/``largest``/``end``;
                when None, the connection's ``auto.offset.reset``, else ``latest`` as in Atlas.
                Given here or in the connection, it is also the policy when a resumed
                offset lies outside its partition (log truncated, topic re-created): the
                partition jumps there with a warning. Without it, the source stops with
                an error naming the partition and the offsets: never a silent gap.
            key_format: how keys are decoded into ``_stream_meta.source.key``.
            key_format_error: ``dlq`` sends a message whose key does not decode to the
                DLQ; ``passThrough`` keeps the raw key bytes.
            time_field: event time from the document (Atlas ``timeField``); the message
                timestamp when None.
            ts_field_name: name of the event-time field (Atlas ``tsFieldName``).
            batch_size: most messages read per ``next_batch``.
            tail: keep waiting for new messages (a stream processor always does);
                False ends each partition at its current end, for replays and benches.
            commit_offsets: commit snapshotted offsets to the group (Atlas
                ``config.enable_auto_commit``, true by default).
            start_at: when the processor first started (``runtime.start``): a partition
                with neither a snapshot nor a committed offset, under the ``latest``
                policy, begins at the first message since then rather than at the end,
                so a restart before the first checkpoint skips nothing.
        """
        topic_list, group_id = source_options(
            topics,
            processor_name=processor_name,
            group_id=group_id,
            auto_offset_reset=auto_offset_reset,
            key_format=key_format,
            key_format_error=key_format_error,
        )
        shared_config = dict(config)
        brokers = shared_config.pop("bootstrap.servers", "").split(",")
        super().__init__(brokers, topic_list, tail=tail, add_config=shared_config, batch_size=batch_size)
        # Offsets move only through snapshots; the group just records progress. Without a
        # chosen policy, librdkafka must not reset an offset it finds out of range.
        chosen = auto_offset_reset or config.get("auto.offset.reset")
        self._first_start = normalize_offset_reset(chosen or "latest")
        self._start_at = start_at
        self._out_of_range_policy = normalize_offset_reset(chosen) if chosen else None
        self._consumer_overrides = {
            "group.id": group_id,
            "auto.offset.reset": self._out_of_range_policy or "error",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": not tail,
        }
        self.group_id = group_id
        self._commit_offsets = commit_offsets
        self._decode_key = key_decoder(key_format)
        self._key_errors_to_dlq = key_format_error == "dlq"
        self._time_field = time_field
        self._ts_field_name = ts_field_name
        self._partition_ids: list[str] | None = None
        self._topic_ids: dict[str, str | None] = {}

    def partition_ids(self) -> list[str]:
        """Every topic-partition, as Bytewax names them (``"0-orders"``), asked of the broker once:
        a window's watermark waits for each (runtime.source_partitions)."""
        if self._partition_ids is None:
            self._partition_ids = list(self.list_parts())
        return self._partition_ids

    def partition_of(self, doc: dict) -> str | None:
        """The topic-partition a document came from, by the ``_stream_meta.source`` it was given."""
        meta = doc.get(STREAM_META)
        source = meta.get("source") if type(meta) is dict else None
        if type(source) is not dict:
            return None
        return f"{source.get('partition')}-{source.get('topic')}"

    def build_part(self, step_id: str, for_part: str, resume_state: dict | int | None) -> _KafkaPartition:
        """Resume at the snapshotted offset, checked against the partition, or start from the group."""
        index, topic = for_part.split("-", 1)
        if topic not in self._topics:
            msg = f"kafka $source: recovery state names topic {topic!r}; the pipeline reads {self._topics}"
            raise ValueError(msg)
        config = {"bootstrap.servers": ",".join(self._brokers), **self._add_config, **self._consumer_overrides}
        consumer = Consumer(config)
        start = TopicPartition(topic, int(index))
        topic_id = self._topic_id(topic)
        if isinstance(resume_state, int):  # snapshots before topic ids were kept
            resume_state = {"offset": resume_state, "topicId": topic_id}
        if resume_state is None or resume_state["offset"] is None:
            committed = consumer.committed([start], timeout=_METADATA_TIMEOUT)[0].offset
            if committed >= 0:
                start.offset = committed
            elif self._start_at is not None and self._first_start == "latest":
                start.offset = _offset_since(consumer, start, self._start_at)
            else:
                start.offset = _FIRST_OFFSET[self._first_start]
        else:
            start.offset = self._checked_resume(consumer, start, resume_state, topic_id)
        return _KafkaPartition(self, for_part, consumer, start, topic_id)

    def _topic_id(self, topic: str) -> str | None:
        """The broker's id of ``topic`` (it changes when the topic is re-created); None if unknown."""
        if topic not in self._topic_ids:
            admin = AdminClient({"bootstrap.servers": ",".join(self._brokers), **self._add_config})
            try:
                description = admin.describe_topics(TopicCollection([topic]))[topic].result(_METADATA_TIMEOUT)
                self._topic_ids[topic] = str(description.topic_id) if description.topic_id else None
            except KafkaException as exc:
                log.warning("kafka $source %s: cannot read the topic id: %s", topic, exc)
                self._topic_ids[topic] = None
        return self._topic_ids[topic]

    def _checked_resume(self, consumer: Consumer, start: TopicPartition, state: dict, topic_id: str | None) -> int:
        """The snapshotted offset if the partition still holds it; else the policy's, or an error."""
        offset = state["offset"]
        low, high = consumer.get_watermark_offsets(start, timeout=_METADATA_TIMEOUT)
        where = f"kafka $source {start.topic}[{start.partition}]"
        if state.get("topicId") and topic_id and state["topicId"] != topic_id:
            problem = f"the topic was re-created (id {state['topicId']} is now {topic_id}); resume offset {offset}"
        elif not low <= offset <= high:
            problem = f"resume offset {offset} lies outside the partition's offsets {low}..{high} (log truncated or topic re-created)"
        else:
            return offset
        policy = self._out_of_range_policy
        if policy is None:
            msg = f"{where}: {problem}; resuming would skip messages silently, so the source stops (set config.auto_offset_reset to earliest or latest to move on)"
            raise RuntimeError(msg)
        jump = low if policy == "earliest" else high
        log.warning("%s: %s; auto_offset_reset %s: resuming at offset %d", where, problem, policy, jump)
        return jump


def _offset_since(consumer: Consumer, partition: TopicPartition, moment: datetime) -> int:
    """The offset of the partition's first message stamped at ``moment`` or later; its end if none is."""
    wanted = TopicPartition(partition.topic, partition.partition, int(moment.timestamp() * 1000))
    found = consumer.offsets_for_times([wanted], timeout=_METADATA_TIMEOUT)[0].offset
    if found >= 0:
        return found
    return consumer.get_watermark_offsets(partition, timeout=_METADATA_TIMEOUT)[1]


class _KafkaPartition(StatefulSourcePartition[list, dict]):
    def __init__(self, source: KafkaSource, name: str, consumer: Consumer, start: TopicPartition, topic_id: str | None):
        consumer.assign([start])
        self._topic_id = topic_id
        self._consumer = consumer
        self._source = source
        self._name = name
        self._topic = start.topic
        self._partition = start.partition
        # Next offset to read; None until the first message when starting from the group.
        self._next_offset = start.offset if start.offset >= 0 else None
        self._previous_snapshot: int | None = None
        self._committed: int | None = None
        self._empty = False
        self._at_end = False
        self._stats = active_worker()
        # [currentOffset, checkpointOffset, high watermark] for the processor's stats; a resumed
        # partition starts at its recovered snapshot.
        self._offsets = self._stats.kafka_partition(start.topic, start.partition) if self._stats is not None else None
        if self._offsets is not None and self._next_offset is not None:
            self._offsets[0] = self._offsets[1] = self._next_offset

    def next_batch(self) -> list[list]:
        end_partition_if_stopping()
        if self._at_end:
            raise StopIteration
        messages = self._consumer.consume(self._source._batch_size, 0)
        self._empty = not messages
        if self._stats is not None:
            self._count(messages)
        if not messages:
            return []
        source = self._source
        topic, partition, ts_field = self._topic, self._partition, source._ts_field_name
        decode_key, time_field = source._decode_key, source._time_field
        utc, fromtimestamp = timezone.utc, datetime.fromtimestamp
        docs: list[dict] = []
        dead = DeadLetters()
        offset = None
        # Messages of one producer batch share a timestamp: convert each millisecond once.
        last_millis, broker_ts = None, None
        for message in messages:
            error = message.error()
            if error is not None:
                self._at_end = error.code() == KafkaError._PARTITION_EOF
                if not self._at_end:
                    self._consumer_error(error)
                continue
            offset = message.offset()
            value = message.value()
            try:
                if value is None:
                    raise ValueError("has no value")
                doc = decode_document(value)
            except ValueError as exc:  # decode_document turns whatever a message holds into this
                payload = raw_text(value or b"")
                reason = f"kafka message: {exc}"
                dead.append(dead_letter(payload, reason, topic=topic, partition=partition, offset=offset))
                continue
            kind, millis = message.timestamp()
            if not kind:
                broker_ts, last_millis = datetime.now(utc), None
            elif millis != last_millis:
                broker_ts, last_millis = fromtimestamp(millis / 1000, utc), millis
            raw_key = message.key()
            headers = message.headers()
            meta = {
                "type": "kafka",
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "key": raw_key,
                "headers": headers_to_meta(headers) if headers else [],
                "ts": broker_ts,
            }
            doc[STREAM_META] = {"source": meta}
            if raw_key is not None and decode_key is not None:
                try:
                    meta["key"] = decode_key(raw_key)
                except Exception as exc:  # a key that does not fit its format, whatever the decoder raised
                    if source._key_errors_to_dlq:
                        reason = f"kafka message key does not match keyFormat: {exc}"
                        dead.append(dead_letter(doc, reason, topic=topic, partition=partition, offset=offset))
                        continue
            if time_field is None:
                event_ts = broker_ts
            else:
                try:
                    event_ts = time_field(doc)
                    if type(event_ts) is not datetime:
                        msg = f"timeField: expected a date; found {type(event_ts).__name__}"
                        raise TypeError(msg)
                except Exception as exc:  # a failing timeField expression costs only this document
                    reason = str(exc) if str(exc).startswith("timeField") else f"timeField: {exc}"
                    dead.append(dead_letter(doc, reason, topic=topic, partition=partition, offset=offset))
                    continue
            doc[ts_field] = event_ts
            docs.append(doc)
        if offset is not None:
            self._next_offset = offset + 1
            if self._offsets is not None:
                self._offsets[0] = self._next_offset
        return chunks(docs, dead)

    def _count(self, messages: list) -> None:
        """Bytes received, and the partition's end as last fetched (no request to the broker)."""
        self._stats.input_bytes += sum(len(m.value() or b"") for m in messages if m.error() is None)
        _low, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, self._partition), cached=True)
        if high >= 0:
            self._offsets[2] = high

    def _consumer_error(self, error: KafkaError) -> None:
        if error.fatal() or error.code() == KafkaError._AUTO_OFFSET_RESET:
            # _AUTO_OFFSET_RESET: the offset left the partition while running, and no
            # auto_offset_reset policy lets librdkafka move on.
            msg = f"kafka $source {self._topic}[{self._partition}]: {error.str()}"
            raise RuntimeError(msg)
        # Transient (broker restarts, rebalancing leaders): librdkafka retries by itself.
        log.warning("kafka $source %s[%d]: %s", self._topic, self._partition, error.str())

    def next_awake(self) -> datetime | None:
        # An empty poll backs off a little so idle partitions do not spin a core.
        return datetime.now(timezone.utc) + _EMPTY_POLL_BACKOFF if self._empty else None

    def snapshot(self) -> dict:
        """The next offset and the topic's id, so a resume can tell a re-created topic."""
        # Bytewax only asks for this snapshot once the previous one is durable, so the
        # previous one is what the group may safely record.
        self._commit(self._previous_snapshot)
        self._previous_snapshot = self._next_offset
        if self._offsets is not None:
            self._offsets[1] = self._next_offset
        return {"offset": self._next_offset, "topicId": self._topic_id}

    def _commit(self, offset: int | None) -> None:
        if offset is None or offset == self._committed or not self._source._commit_offsets:
            return
        try:
            self._consumer.commit(offsets=[TopicPartition(self._topic, self._partition, offset)], asynchronous=True)
            self._committed = offset
        except KafkaException as exc:
            # Commits only feed lag tools; recovery reads offsets from snapshots.
            log.warning("kafka $source %s[%d]: offset commit failed: %s", self._topic, self._partition, exc)

    def close(self) -> None:
        # No commit here: Bytewax closes a partition at its end before the epoch holding
        # its last messages is durable; the group keeps the previous snapshot's offset.
        self._consumer.close()


class KafkaSink(FixedPartitionedSink[list, None]):
    """``$emit`` to Kafka: documents in, one message each, produced asynchronously.

    Delivery: at-least-once, with a ``sluice-id`` header a consumer can de-duplicate on
    (see :data:`MESSAGE_ID_HEADER`). ``snapshot()`` flushes the producer and waits for every
    acknowledgement, and Bytewax commits an epoch only after its sink snapshots, so
    input acknowledged by recovery is never lost; output since the last snapshot is
    produced again after a crash. A message the broker rejects becomes a DLQ record for
    the writer ``dead_letter_writer_factory`` makes; an unreachable broker is retried
    until it comes back.

    Items are ``(key, chunk)`` pairs; :meth:`chunk_key` spreads chunks over the
    ``parts`` sink partitions (each with its own producer).
    """

    def __init__(
        self,
        config: dict,
        topic: str | Callable[[dict], Any],
        *,
        key: Callable[[dict], Any] | None = None,
        key_format: str = "binData",
        headers: Callable[[dict], Any] | None = None,
        output_format: str = "relaxedJson",
        date_format: str = "default",
        acks: int | str | None = None,
        compression_type: str | None = None,
        tombstone_when: Callable[[dict], Any] | None = None,
        dead_letter_writer_factory: Callable[[], DeadLetterWriter] | None = None,
        processor_name: str = "sluice",
        parts: int = 1,
    ):
        """Check the options once; expressions arrive compiled as callables.

        Args:
            config: confluent-kafka configuration, see :func:`connectors.kafka_options.client_config`.
            topic: a topic name, or a callable computing it per document.
            key: computes the message key per document; no key when None.
            key_format: ``binData``, ``string``, ``json``, ``int`` or ``long``.
            headers: computes headers per document: ``{k: v}`` or ``[{k, v}]``.
            output_format: ``relaxedJson`` (default), ``canonicalJson`` or ``basicJson``.
            date_format: ``default`` (as the output format writes dates) or ``ISO8601``.
            acks: ``-1``, ``0``, ``1`` or ``all`` (librdkafka's default ``all`` when None).
            compression_type: ``none``, ``gzip``, ``snappy``, ``lz4`` or ``zstd``.
            tombstone_when: a truthy result produces a null value (a tombstone).
            dead_letter_writer_factory: makes each partition's writer of DLQ records for
                documents that cannot be sent; without one such a document stops the flow
                rather than vanish.
            processor_name: the ``processorName`` of those DLQ records.
            parts: number of sink partitions (and producers).
        """
        sink_options(
            topic,
            key_format=key_format,
            output_format=output_format,
            date_format=date_format,
            acks=acks,
            compression_type=compression_type,
        )
        self._config = dict(config)
        if acks is not None:
            self._config["acks"] = str(acks)
        if compression_type is not None:
            self._config["compression.type"] = compression_type
        self._topic = topic
        self._key = key
        self._encode_key = key_encoder(key_format)
        self._headers = headers
        self._encode_value = value_encoder(output_format, date_format)
        self._tombstone_when = tombstone_when
        self._dead_letter_writer_factory = dead_letter_writer_factory
        self._processor_name = processor_name
        self._parts = [str(i) for i in range(parts)]
        self._next_part = itertools.cycle(self._parts).__next__

    def chunk_key(self, _chunk: list) -> str:
        """Key for ``op.key_on`` before this sink: round-robin over the sink partitions."""
        return self._next_part()

    def list_parts(self) -> list[str]:
        """Every worker can reach the broker; Bytewax spreads the partitions over workers."""
        return self._parts

    def part_fn(self, item_key: str) -> int:
        """Keys are partition numbers already."""
        return int(item_key)

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _KafkaSinkPartition:
        """Nothing to resume: output since the last snapshot is simply produced again."""
        return _KafkaSinkPartition(self, step_id)


class _KafkaSinkPartition(StatefulSinkPartition[list, None]):
    def __init__(self, sink: KafkaSink, step_id: str):
        self._sink = sink
        self._step_id = step_id
        # Delivery reports for failures only: success costs no Python callback.
        self._producer = Producer(
            {**sink._config, "on_delivery": self._on_delivery, "delivery.report.only.error": True}
        )
        self._retry: list[tuple] = []
        self._dead = DeadLetters()
        factory = sink._dead_letter_writer_factory
        self._dead_letter_writer = factory() if factory is not None else None
        self._stats = active_worker()

    def _on_delivery(self, error: KafkaError | None, message: Any) -> None:
        if error is None:
            return
        if error.code() in _RETRY_CODES or error.retriable():
            servers = _servers(self._sink._config)
            log.warning("kafka $emit to %s (%s): %s; producing again", message.topic(), servers, error.str())
            self._retry.append((message.topic(), message.value(), message.key(), message.headers()))
            return
        reason = f"kafka $emit: broker rejected the message: {error.str()}"
        self._dead.append(dead_letter(_payload(message.value()), reason, topic=message.topic()))

    def write_batch(self, values: list[list]) -> None:
        sink = self._sink
        fixed_topic = sink._topic if isinstance(sink._topic, str) else None
        topic_of, key_of, headers_of = sink._topic, sink._key, sink._headers
        encode_key, encode_value, tombstone_when = sink._encode_key, sink._encode_value, sink._tombstone_when
        produce = self._producer.produce
        dead = self._dead
        received = written = 0
        for chunk in values:
            if isinstance(chunk, DeadLetters):
                dead.extend(chunk)
                continue
            received += len(chunk)
            for doc in chunk:
                try:
                    topic = fixed_topic or topic_of(doc)
                    if not isinstance(topic, str) or not topic:
                        msg = f"topic: expected a non-empty string; found {topic!r}"
                        raise TypeError(msg)
                    key = None if key_of is None else key_of(doc)
                    if key is not None:
                        key = encode_key(key)
                    headers = [] if headers_of is None else headers_from_value(headers_of(doc))
                    replay_id = message_id(doc)
                    if replay_id is not None:
                        headers.append((MESSAGE_ID_HEADER, replay_id.encode()))
                    value = None if tombstone_when is not None and tombstone_when(doc) else encode_value(doc)
                    if value is not None and len(value) > MAX_DOCUMENT_BYTES:
                        raise ValueError(size_error(len(value)))
                except Exception as exc:  # a failing expression costs only this document
                    dead.append(dead_letter(doc, f"kafka $emit: {exc}"))
                    continue
                written += len(value) if value is not None else 0
                try:
                    produce(topic, value, key, headers=headers)
                except (BufferError, KafkaException):
                    self._produce(topic, value, key, headers, doc)
        if self._stats is not None:
            self._stats.wrote(received, written)
        self._producer.poll(0)
        self._drain()

    def _produce(self, topic: str, value: Any, key: Any, headers: Any, doc: Any) -> None:
        """Produce, waiting while the local queue is full; what librdkafka refuses is dead-lettered."""
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers)
                return
            except BufferError:
                # The local queue is full (slow or absent broker): wait for room.
                self._producer.poll(_FLUSH_STEP_SECONDS)
            except KafkaException as exc:
                # Rejected before sending, e.g. larger than message.max.bytes.
                self._dead.append(dead_letter(doc, f"kafka $emit: {exc.args[0].str()}", topic=topic))
                return

    def _drain(self) -> None:
        """Hand DLQ records to the writer and produce retries again."""
        if self._dead:
            dead, self._dead = self._dead, DeadLetters()
            if self._dead_letter_writer is None:
                msg = f"kafka $emit in step {self._step_id}: {dead[0]['errInfo']['reason']}, and no DLQ is configured"
                raise RuntimeError(msg)
            self._dead_letter_writer.write(stamp_processor(dead, self._sink._processor_name))
        retry, self._retry = self._retry, []
        for topic, value, key, headers in retry:
            self._produce(topic, value, key, headers, _payload(value))

    def snapshot(self) -> None:
        # Every message handed over in this epoch is acknowledged (or dead-lettered)
        # before Bytewax commits the epoch.
        while True:
            remaining = self._producer.flush(_FLUSH_STEP_SECONDS)
            self._drain()
            if remaining == 0 and not self._retry and len(self._producer) == 0:
                return
            if remaining:
                log.warning("kafka $emit: %d messages waiting for %s", remaining, _servers(self._sink._config))

    def close(self) -> None:
        self.snapshot()
        if self._dead_letter_writer is not None:
            self._dead_letter_writer.close()
        # The producer's delivery callback points back here; let both go now.
        self._producer = None


def _payload(value: bytes | None) -> Any:
    """The document back from a message we produced, for its DLQ record."""
    if value is None:
        return None
    try:
        return loads_fast(value)
    except ValueError:
        return raw_text(value)


def _refused(record: dict, why: str) -> bytes:
    """A DLQ record Kafka refused, reduced to a few kilobytes."""
    return encode_relaxed(reduced_record(record, why, _REFUSED_PREFIX_CHARS))


class KafkaDeadLetterWriter:
    """Writes DLQ records to a Kafka topic (``options.dlq`` naming a Kafka connection).

    Synchronous: ``write`` returns once the broker has every record, so the caller's
    snapshot covers them (at-least-once, like the rest of the output). One writer per
    worker, as ``connectors.dead_letter_sink.DeadLetterSink`` builds them.
    """

    def __init__(self, config: dict, topic: str):
        """Nothing connects until the first record: building a flow must not need the broker."""
        if not isinstance(topic, str) or not topic:
            msg = f"kafka dlq topic: expected a topic name; got {topic!r}"
            raise ValueError(msg)
        self._config = config
        self._topic = topic
        self._producer: Producer | None = None
        # librdkafka refuses a message over message.max.bytes; leave room for the framing.
        self._limit = int(config.get("message.max.bytes", _DEFAULT_MESSAGE_MAX_BYTES)) - _FRAMING_BYTES
        self._failed: list[tuple[KafkaError, dict, bytes, bool]] = []

    def write(self, records: list[dict]) -> None:
        """Produce ``records`` and wait until each is acknowledged, retrying while the broker is away.

        A record over the topic's limits, or too deep to encode, is produced in reduced form
        (see :func:`runtime.dead_letters.reduced_record`), as is one the broker refuses
        for its size; only a broker refusing a reduced record stops the flow.
        """
        if self._producer is None:
            self._producer = Producer(self._config)
        pending = [(record, encode_within(record, encode_relaxed, self._limit), False) for record in records]
        while pending:
            for record, value, reduced in pending:
                self._produce(record, value, reduced)
            while self._producer.flush(_FLUSH_STEP_SECONDS):
                log.warning("kafka dlq: waiting for %s", _servers(self._config))
            failed, self._failed = self._failed, []
            pending = []
            for error, record, value, reduced in failed:
                if error.code() in _SIZE_ERRORS and not reduced:
                    pending.append((record, _refused(record, f"the broker refused the record: {error.str()}"), True))
                elif error.code() in _RETRY_CODES or error.retriable():
                    pending.append((record, value, reduced))
                else:
                    msg = f"kafka dlq topic {self._topic!r}: {error.str()}"
                    raise RuntimeError(msg)
            if failed:
                log.warning("kafka dlq topic %r: %s; producing again", self._topic, failed[0][0].str())

    def _produce(self, record: dict, value: bytes, reduced: bool) -> None:
        """Hand one record to librdkafka; its delivery report lands in ``_failed`` if it fails."""
        while True:

            def delivered(error: KafkaError | None, _message: Any, value: bytes = value, reduced: bool = reduced) -> None:
                if error is not None:
                    self._failed.append((error, record, value, reduced))

            try:
                self._producer.produce(self._topic, value, on_delivery=delivered)
                return
            except BufferError:
                self._producer.poll(_FLUSH_STEP_SECONDS)
            except KafkaException as exc:  # refused before sending, e.g. over message.max.bytes
                if reduced:
                    msg = f"kafka dlq topic {self._topic!r}: {exc.args[0].str()}"
                    raise RuntimeError(msg) from None
                value, reduced = _refused(record, f"the producer refused the record: {exc.args[0].str()}"), True

    def close(self) -> None:
        """Every record was acknowledged in ``write``; nothing is left to send."""
