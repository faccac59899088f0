"""Stock mongosh drives `sluice serve` as it drives Atlas: `sp.process`, the processor lifecycle,
connections and errors, asserted on what the shell prints (script mode, `--quiet`)."""

from __future__ import annotations

import glob
import os
import re
import signal
import uuid

import pytest
from pymongo import MongoClient

from instance_server import RunningInstance, mongosh, wait_for, write_registry

pytestmark = pytest.mark.integration

OK = "{\n  ok: 1\n}"


@pytest.fixture(scope="module")
def instance(tmp_path_factory, mongodb_uri):
    directory = tmp_path_factory.mktemp("mongosh")
    registry = write_registry(directory, {
        "mongo": {"type": "mongodb", "uri": mongodb_uri},
        "sample_stream_solar": {"type": "sample_stream_solar", "rate": 50, "seed": 7},
    })  # fmt: skip
    running = RunningInstance(registry, str(directory / "data"))
    yield running
    assert running.stop() == 0, "\n".join(running.stderr)


@pytest.fixture(scope="module")
def shell_home(tmp_path_factory):
    return str(tmp_path_factory.mktemp("home"))


@pytest.fixture
def run_mongosh(instance, shell_home):
    """Run a script in stock mongosh against the instance."""
    return lambda script, wait=True: mongosh(instance.url, script, shell_home, wait=wait)


def test_sp_process_prints_the_documents(run_mongosh):
    shell = run_mongosh("""
        sp.process([
          {$source: {documents: [{n: 1}, {n: 2}, {n: 3}, {n: 4}]}},
          {$match: {n: {$gte: 3}}},
          {$project: {_id: 0, n: 1, double: {$multiply: ['$n', 2]}}},
          {$unset: '_stream_meta'}
        ]);
        print('left:'); printjson(sp.listStreamProcessors());
    """)
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert shell.stdout == "{\n  n: 3,\n  double: 6\n}\n{\n  n: 4,\n  double: 8\n}\nleft:\n[]\n"


def test_sp_process_refuses_a_bad_pipeline_with_the_validate_message(run_mongosh):
    shell = run_mongosh("sp.process([{$source: {documents: [{a: 1}]}}, {$match: {a: {$gtt: 1}}}])")
    assert shell.returncode == 1
    assert 'MongoServerError: stage 1 ($match): unknown query operator "$gtt" at a.$gtt' in shell.stdout + shell.stderr


def test_processor_lifecycle(instance, run_mongosh, mongodb_uri):
    name = f"solar_{uuid.uuid4().hex[:8]}"
    created = run_mongosh(f"""
        print('create:');
        sp.createStreamProcessor('{name}', [
          {{$source: {{connectionName: 'sample_stream_solar'}}}},
          {{$match: {{'obs.watts': {{$gt: 0}}}}}},
          {{$merge: {{into: {{connectionName: 'mongo', db: 'mongosh_tests', coll: '{name}'}}}}}}
        ]);
        print('start:'); printjson(sp.{name}.start());
        const [entry] = sp.listStreamProcessors({{name: '{name}'}});
        print('listed: ' + entry.name + ' ' + entry.state + ' ' + entry.pipeline.length + ' stages');
    """)
    assert created.returncode == 0, created.stdout + created.stderr
    assert created.stdout == f"create:\nstart:\n{OK}\nlisted: {name} STARTED 3 stages\n"

    target = MongoClient(mongodb_uri)["mongosh_tests"][name]
    wait_for(lambda: target.count_documents({}) > 0, "the started processor's output", timeout=120)
    admin = instance.client().admin

    def counted() -> bool:
        return admin.command("getStreamProcessorStats", name)["stats"]["inputMessageCount"] > 0

    wait_for(counted, "the processor's first stats", timeout=60)

    stopped = run_mongosh(f"""
        const reply = sp.{name}.stats();
        print('stats: ' + [reply.ok, reply.stats.name, reply.stats.scaleFactor, typeof reply.stats.status].join(' '));
        printjson(reply.stats.inputMessageCount);
        print('stop:'); printjson(sp.{name}.stop());
        print('state: ' + sp.listStreamProcessors({{name: '{name}'}})[0].state);
        print('drop:'); printjson(sp.{name}.drop());
        print('left: ' + sp.listStreamProcessors({{name: '{name}'}}).length);
    """)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    lines = stopped.stdout.splitlines()
    assert lines[0] == f"stats: 1 {name} 1 string"
    assert re.fullmatch(r"Long\('[1-9][0-9]*'\)", lines[1]), "counters are int64, printed as Long"
    assert "\n".join(lines[2:]) == f"stop:\n{OK}\nstate: STOPPED\ndrop:\n{OK}\nleft: 0"
    target.drop()


def test_connections_and_workspace_defaults(run_mongosh, mongodb_uri):
    shell = run_mongosh("printjson(sp.listConnections()); printjson(sp.listWorkspaceDefaults())")
    assert shell.returncode == 0, shell.stderr
    assert "name: 'mongo',\n    type: 'atlas'" in shell.stdout
    assert "name: 'sample_stream_solar',\n    type: 'inmemory'" in shell.stdout
    assert mongodb_uri.split("//", 1)[1].split("/", 1)[0] not in shell.stdout, "the registry's URI stays private"
    assert "defaultTierSize: 'SP10'" in shell.stdout and "ok: 1" in shell.stdout


def test_unknown_processor_is_a_server_error(run_mongosh):
    shell = run_mongosh("sp.missing.start()")
    assert shell.returncode == 1
    assert "MongoServerError: stream processor 'missing' does not exist" in shell.stdout + shell.stderr


def test_sample_prints_live_output_and_ends_with_the_shell(instance, run_mongosh):
    """Ctrl-C in sample() sends nothing: the instance must notice the closed sockets and end the sample."""
    name = f"sampled_{uuid.uuid4().hex[:8]}"
    created = run_mongosh(f"""
        sp.createStreamProcessor('{name}', [
          {{$source: {{connectionName: 'sample_stream_solar'}}}},
          {{$project: {{_id: 0, device_id: 1, sampled: {{$literal: '{name}'}}}}}}
        ]);
        printjson(sp.{name}.start());
    """)
    assert created.returncode == 0, created.stdout + created.stderr
    shell = run_mongosh(f"sp.{name}.sample()", wait=False)
    try:
        for line in shell.stdout:
            if line.strip() == f"sampled: '{name}'":
                break
        else:
            pytest.fail("mongosh's sample() ended without printing a document")
        def markers() -> list[str]:
            return glob.glob(os.path.join(instance.data, "processors", "*", "samples", "open-*"))

        assert markers(), "a sample is open while the shell samples"
        shell.send_signal(signal.SIGINT)
        shell.wait(60)
        wait_for(lambda: not markers(), "the sample to end once the shell is gone")
    finally:
        shell.kill()
        shell.wait()
    assert run_mongosh(f"printjson(sp.{name}.drop())").stdout == OK + "\n"
