#!/bin/bash
# Issue 18 row 2: peak RSS of `mlserve serve` while 16 clients post a
# 7000x7000 PNG at once with GOMAXPROCS=8, on 127.0.0.1.
# usage: scripts/decode-budget-rss.sh <mlserve binary> <port> [VAR=value...]
# e.g.   scripts/decode-budget-rss.sh ./mlserve 18472 MLSERVE_DECODE_BUDGET=471859200
set -eu
bin=$1 port=$2
shift 2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go run ./scripts/bigpng "$dir/big.png"
env "$@" GOMAXPROCS=8 MLSERVE_SHUTDOWN_DELAY=0s "$bin" serve --model ../shared/fixtures/models/mini-v1-opset11.onnx \
	--addr "127.0.0.1:$port" --log-level warn --timeout 5m >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 120); do curl -sf "127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
base=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
start=$(date +%s)
codes=$(for _ in $(seq 16); do curl -s -o /dev/null -w '%{http_code}\n' --data-binary @"$dir/big.png" -H 'Content-Type: image/png' "127.0.0.1:$port/predict" & done; wait)
end=$(date +%s)
peak=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
kill $pid
wait $pid 2>/dev/null || true
echo "$bin $*: VmHWM $((base / 1024)) MB after warm-up, $((peak / 1024)) MB peak, $((end - start)) s, statuses: $(echo $codes | tr ' ' '\n' | sort | uniq -c | tr '\n' ' ')"
