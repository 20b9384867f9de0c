#!/usr/bin/env bash
# Query latencies (p50/p99) of the analytics endpoints on a generated
# 30-day, 10-device history (5 s samples, stored through the real store).
#   host-server/benches/queries.sh [path/to/solarwire]   (RUNS=50 per endpoint)
set -euo pipefail
bin=${1:-target/release/solarwire}
runs=${RUNS:-50}
dir=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

start=$(date +%s)
"$bin" --data-dir "$dir" --log warn generate-history --devices 10 --days 30
echo "generated in $(( $(date +%s) - start )) s; database $(du -h "$dir/solarwire.sqlite" | cut -f1)"
echo "bench password 1" | "$bin" --data-dir "$dir" user add bench --role admin --password-stdin >/dev/null
"$bin" --data-dir "$dir" --log warn serve --listen 127.0.0.1:0 >"$dir/out" &
server=$!
for _ in $(seq 100); do grep -q 'listening on' "$dir/out" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$dir/out" | head -1)
token=$(curl -sf --data-urlencode username=bench --data-urlencode "password=bench password 1" \
  "$url/api/v1/auth/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
# Let the first retention pass (the 30th day back is rolled up) finish.
sleep 5

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
