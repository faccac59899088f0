"""Shared fixtures: the real servers tests/run.sh started, and factories for pipelines."""

import os
import uuid

import pytest

from connectors.mongodb_support import connect


def _server(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.fail(f"{var} is not set: run the suite through `bash tests/run.sh`, which starts the servers")
    return value


@pytest.fixture(scope="session")
def mongodb_uri() -> str:
    """URI of the SecantusDB server (MongoDB wire protocol, change streams)."""
    return _server("SLUICE_TEST_MONGODB_URI")


@pytest.fixture
def client(mongodb_uri: str):
    """A client of the MongoDB server, closed after the test."""
    mongo = connect(mongodb_uri)
    yield mongo
    mongo.close()


@pytest.fixture
def db(client):
    """A database of its own for each test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield client[name]
    client.drop_database(name)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """bootstrap.servers of the Tansu Kafka broker."""
    return _server("SLUICE_TEST_KAFKA_BOOTSTRAP")
