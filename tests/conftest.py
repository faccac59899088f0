"""Shared fixtures: the real servers tests/run.sh started, and factories for pipelines."""

import os

import pytest


def _server(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.fail(f"{var} is not set: run the suite through `bash tests/run.sh`, which starts the servers")
    return value


@pytest.fixture(scope="session")
def mongodb_uri() -> str:
    """URI of the SecantusDB server (MongoDB wire protocol, change streams)."""
    return _server("SLUICE_TEST_MONGODB_URI")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """bootstrap.servers of the Tansu Kafka broker."""
    return _server("SLUICE_TEST_KAFKA_BOOTSTRAP")
