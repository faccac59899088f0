"""Wait until the servers tests/run.sh started answer, so no test races their start-up."""

import os
import sys
import time

import pymongo
from confluent_kafka.admin import AdminClient


def wait(what: str, probe, deadline: float) -> None:
    while True:
        try:
            probe()
            return
        except Exception as exc:  # any failure means "not up yet" until the deadline
            if time.monotonic() > deadline:
                msg = f"{what} did not answer within 30 s: {exc}"
                raise SystemExit(msg) from exc
            time.sleep(0.2)


def main() -> None:
    deadline = time.monotonic() + 30
    uri = os.environ["SLUICE_TEST_MONGODB_URI"]
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=1000)
    wait("SecantusDB", lambda: client.admin.command("ping"), deadline)
    admin = AdminClient({"bootstrap.servers": os.environ["SLUICE_TEST_KAFKA_BOOTSTRAP"]})
    wait("Tansu", lambda: admin.list_topics(timeout=1), deadline)
    print("servers up", file=sys.stderr)


if __name__ == "__main__":
    main()
