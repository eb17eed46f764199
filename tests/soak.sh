#!/usr/bin/env bash
# `make soak`: the whole suite SOAK_RUNS times in a row, then once more while stress-ng keeps one core
# busy. A suite that races its code fails here first. One line per run goes to flashsale-report/soak.log.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${SOAK_RUNS:-3}
log=flashsale-report/soak.log
mkdir -p flashsale-report

if ! command -v stress-ng >/dev/null; then
  echo "soak: installing stress-ng (Debian) for the loaded run"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null; } ||
    { echo "soak: cannot install stress-ng; install it and run again" >&2; exit 2; }
fi

one_run() {  # $1: label; runs `make test`, appends its closing pytest line to the log
  # Each run keeps its own pytest folder (workers' and brokers' logs) so a failure can be read afterwards.
  local out="flashsale-report/soak-$1.out" began=$SECONDS rc
  make --no-print-directory test PYTEST_ARGS="--basetemp=$PWD/flashsale-report/soak-$1-tmp" >"$out" 2>&1
  rc=$?
  printf '%s %s rc=%s %ss: %s\n' "$(date -u +%FT%TZ)" "$1" "$rc" "$((SECONDS - began))" \
    "$(grep -E '(passed|failed|error)' "$out" | tail -n 1)" | tee -a "$log"
  return "$rc"
}

echo "soak: $runs runs of make test, then one with one core busy; summary in $log"
failed=0
for i in $(seq "$runs"); do
  one_run "run$i" || failed=1
done
stress-ng --cpu 1 --timeout 2h --quiet &
stress=$!
one_run "loaded" || failed=1
kill "$stress" 2>/dev/null
wait "$stress" 2>/dev/null
exit "$failed"
