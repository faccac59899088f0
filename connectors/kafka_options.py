"""What the Kafka connectors accept, checked without confluent-kafka: connection entries and
the options of ``$source`` and ``$emit``, each refusal an :class:`OptionError` at its Atlas field.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#apache-kafka-broker
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connectors.kafka_formats import AUTO_OFFSET_RESET, DATE_FORMATS, KEY_FORMAT_ERRORS, KEY_FORMATS, OUTPUT_FORMATS
from connectors.options import OptionError

# Atlas spells SCRAM mechanisms without "SHA"; librdkafka needs it.
_SASL_MECHANISMS = {
    "PLAIN": "PLAIN",
    "SCRAM-256": "SCRAM-SHA-256",
    "SCRAM-512": "SCRAM-SHA-512",
    "SCRAM-SHA-256": "SCRAM-SHA-256",
    "SCRAM-SHA-512": "SCRAM-SHA-512",
    "OAUTHBEARER": "OAUTHBEARER",
}
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
# Atlas connection fields that carry PEM text, and the librdkafka property for each.
_SSL_PEM_FIELDS = {
    "brokerPublicCertificate": "ssl.ca.pem",
    "clientCertificate": "ssl.certificate.pem",
    "clientKey": "ssl.key.pem",
    "clientKeyPassword": "ssl.key.password",
}
ACKS = ("-1", "0", "1", "all")
COMPRESSION_TYPES = ("none", "gzip", "snappy", "lz4", "zstd")
SOURCE, EMIT = "kafka $source", "kafka $emit"


def client_config(connection: dict) -> dict:
    """Turn a connection registry entry into a confluent-kafka configuration.

    Args:
        connection: ``{"type": "kafka", "bootstrapServers": "h1:9092,h2:9092" | [..],
            "security": {"protocol", "brokerPublicCertificate", "clientCertificate",
            "clientKey", "clientKeyPassword"}, "authentication": {"mechanism": "PLAIN" |
            "SCRAM-256" | "SCRAM-512", "username", "password"}, "config": {...}}``. Any
            librdkafka property in ``config`` is passed through and wins over the fields
            above.

    Returns:
        The configuration dict for ``Consumer``/``Producer``/``AdminClient``.
    """
    what = "kafka connection"
    kind = str(connection.get("type", "")).lower()
    if kind != "kafka":
        raise OptionError(what, f"expected type 'kafka'; got {connection.get('type')!r}")
    servers = connection.get("bootstrapServers")
    if isinstance(servers, list):
        servers = ",".join(servers)
    if not isinstance(servers, str) or not servers.strip():
        raise OptionError(what, f"expected 'host:port[,host:port]'; got {servers!r}", ("bootstrapServers",))
    config: dict[str, Any] = {"bootstrap.servers": servers}

    security = connection.get("security") or {}
    authentication = connection.get("authentication") or {}
    protocol = security.get("protocol")
    mechanism = authentication.get("mechanism")
    if mechanism is not None:
        if mechanism not in _SASL_MECHANISMS:
            allowed = ", ".join(_SASL_MECHANISMS)
            raise OptionError(what, f"expected one of {allowed}; got {mechanism!r}", ("authentication", "mechanism"))
        config["sasl.mechanism"] = _SASL_MECHANISMS[mechanism]
        for field, prop in (("username", "sasl.username"), ("password", "sasl.password")):
            if field in authentication:
                config[prop] = authentication[field]
        # Credentials never travel in clear text unless the registry says so.
        protocol = protocol or "SASL_SSL"
    if protocol is not None:
        if protocol not in _SECURITY_PROTOCOLS:
            allowed = ", ".join(_SECURITY_PROTOCOLS)
            raise OptionError(what, f"expected one of {allowed}; got {protocol!r}", ("security", "protocol"))
        config["security.protocol"] = protocol
    for field, prop in _SSL_PEM_FIELDS.items():
        if field in security:
            config[prop] = security[field]
    config.update(connection.get("config") or {})
    return config


def _choice(value: Any, allowed: Iterable, what: str, path: tuple) -> None:
    if value not in allowed:
        raise OptionError(what, f"expected one of {', '.join(map(repr, allowed))}; got {value!r}", path)


def source_options(
    topics: str | Iterable[str],
    *,
    processor_name: str | None,
    group_id: str | None,
    auto_offset_reset: str | None,
    key_format: str,
    key_format_error: str,
) -> tuple[list[str], str]:
    """The topics as a list and the consumer group (``sluice-<processor_name>`` by default)."""
    topic_list = [topics] if isinstance(topics, str) else list(topics)
    if not topic_list or not all(isinstance(t, str) and t for t in topic_list):
        raise OptionError(SOURCE, f"expected a topic name or a non-empty array of names; got {topics!r}", ("topic",))
    if group_id is None:
        if not processor_name:
            raise OptionError(SOURCE, "expected config.group_id or a processor name to derive it from; got neither")
        group_id = f"sluice-{processor_name}"
    if auto_offset_reset is not None:
        _choice(auto_offset_reset, AUTO_OFFSET_RESET, SOURCE, ("config", "auto_offset_reset"))
    _choice(key_format, KEY_FORMATS, SOURCE, ("config", "keyFormat"))
    _choice(key_format_error, KEY_FORMAT_ERRORS, SOURCE, ("config", "keyFormatError"))
    return topic_list, group_id


def sink_options(
    topic: Any, *, key_format: str, output_format: str, date_format: str, acks: Any, compression_type: str | None
) -> None:
    """``$emit`` to Kafka: a topic (a name, or a callable per document) and its config."""
    if not (callable(topic) or (isinstance(topic, str) and topic)):
        raise OptionError(EMIT, f"expected a topic name or an expression; got {topic!r}", ("topic",))
    if acks is not None and str(acks) not in ACKS:
        raise OptionError(EMIT, f"expected -1, 0, 1 or 'all'; got {acks!r}", ("config", "acks"))
    if compression_type is not None and compression_type not in COMPRESSION_TYPES:
        allowed = "none, gzip, snappy, lz4 or zstd"
        raise OptionError(EMIT, f"expected {allowed}; got {compression_type!r}", ("config", "compression_type"))
    _choice(key_format, KEY_FORMATS, EMIT, ("config", "keyFormat"))
    _choice(output_format, OUTPUT_FORMATS, EMIT, ("config", "outputFormat"))
    _choice(date_format, DATE_FORMATS, EMIT, ("config", "dateFormat"))
