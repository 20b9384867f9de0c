#!/usr/bin/env bash
# Query latencies (p50/p99) of the analytics endpoints on a generated
# history stored through the real store: 10 devices × 1 year, a sample a
# minute (DEVICES, DAYS, POLL to change), and how soon logins are answered
# after the server starts on it (its first retention pass runs meanwhile).
#   host-server/benches/queries.sh [path/to/solarwire]   (RUNS=50 per endpoint)
set -euo pipefail
bin=${1:-target/release/solarwire}
runs=${RUNS:-50}
dir=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

start=$(date +%s)
"$bin" --data-dir "$dir" --log warn generate-history --devices "${DEVICES:-10}" \
  --days "${DAYS:-365}" --poll-interval "${POLL:-60}"
bytes=$(du -b "$dir/solarwire.sqlite" | cut -f1)
samples=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COALESCE(SUM(samples), 0) FROM blocks").fetchone()[0])' "$dir/solarwire.sqlite")
echo "generated $samples samples in $(( $(date +%s) - start )) s; database $bytes bytes, $(( bytes / samples )) bytes per sample"
echo "bench password 1" | "$bin" --data-dir "$dir" user add bench --role admin --password-stdin >/dev/null
started=$(date +%s%N)
"$bin" --data-dir "$dir" --log warn serve --listen 127.0.0.1:0 >"$dir/out" &
server=$!
for _ in $(seq 600); do grep -q 'listening on' "$dir/out" && break; sleep 0.05; done
url=$(grep -o 'http://[0-9.:]*' "$dir/out" | head -1)
login() {
  curl -s -o "$dir/login" -w '%{http_code} %{time_total}\n' --data-urlencode username=bench \
    --data-urlencode "password=bench password 1" "$url/api/v1/auth/login"
}
# Logins while the first retention pass (a year of raw samples past the
# default retention) runs: each must be answered, within a second.
read -r code took < <(login)
echo "first login: HTTP $code $(( ($(date +%s%N) - started) / 1000000 )) ms after the server started"
slowest=$took
for _ in $(seq 9); do
  read -r code took < <(login)
  [ "$code" = 200 ] || echo "login answered HTTP $code"
  slowest=$(python3 -c "print(max($slowest, $took))")
done
echo "slowest of 10 logins during the first retention pass: $(python3 -c "print(round($slowest * 1000, 1))") ms"
token=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["access_token"])' "$dir/login")

now=$(( $(date +%s) * 1000 ))
day=86400000
dev="$url/api/v1/devices/GEN_0001"
measure() {
  local name=$1 path=$2
  for _ in $(seq "$runs"); do
    curl -sf -o /dev/null -w '%{time_total}\n' -H "authorization: Bearer $token" "$path"
  done | sort -n | awk -v name="$name" '{ t[NR] = $1 }
    END { p50 = t[int(NR * 0.50 + 0.5)]; p99 = t[int(NR * 0.99 + 0.5)];
          printf "%-36s p50 %8.1f ms   p99 %8.1f ms\n", name, p50 * 1000, p99 * 1000 }'
}
echo "$runs requests each, one at a time, loopback:"
measure "fleet list (10 devices, today's energy)" "$url/api/v1/devices"
measure "stats" "$url/api/v1/stats"
measure "device stats" "$dev/stats"
measure "history, 1 h of samples" "$dev/history?from=$((now - 3600000))&to=$now&registers=Pac"
measure "series 24 h, 5 min avg" "$dev/series?register=Pac&from=$((now - day))&to=$now&step=5m"
measure "series 7 d, 30 min max" "$dev/series?register=Pac&from=$((now - 7 * day))&to=$now&step=30m&agg=max"
measure "series 30 d, 1 h avg" "$dev/series?register=Pac&from=$((now - 30 * day))&to=$now&step=1h"
measure "series 30 d, 1 h avg, CSV" "$dev/series?register=Pac&from=$((now - 30 * day))&to=$now&step=1h&format=csv"
measure "energy, today by hour" "$dev/energy?period=day"
measure "energy, this month by day" "$dev/energy?period=month"
measure "energy, this year by month" "$dev/energy?period=year"
