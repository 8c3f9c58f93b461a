#!/usr/bin/env bash
# Builds the examples and replays the tutorial: the server on 127.0.0.1:10008
# (or the port given), the client against it, both transcripts shown.
#   scripts/demo.sh [port]
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-10008}
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOLINE_BUILD_TESTS=OFF >/dev/null
cmake --build build --target server client >/dev/null

log=$(mktemp)
build/examples/server 127.0.0.1 "$port" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "^Listening" "$log" && break; sleep 0.05; done

echo "== client: build/examples/client 127.0.0.1 $port"
build/examples/client 127.0.0.1 "$port"
echo "== nc: printf 'SOME data\\n' | nc -N 127.0.0.1 $port"
printf 'SOME data\n' | nc -N 127.0.0.1 "$port"
kill -TERM "$server"
wait "$server"
echo "== server: build/examples/server 127.0.0.1 $port (stopped with SIGTERM, exit $?)"
cat "$log"
