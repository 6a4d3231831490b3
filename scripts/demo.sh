#!/usr/bin/env bash
# The main job, end to end, on a fresh clone: generate a legacy JSONL log,
# migrate it into a store, verify, inspect, and compare the two journals side
# by side on this disk. Usage: scripts/demo.sh [DIR] (default: demo).
set -euo pipefail
dir=${1:-demo}
bin=${OPJOURNAL:-./bin/opjournal}
ops=${DEMO_OPS:-20000}

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

rm -rf "$dir"
mkdir -p "$dir"

step "1. A legacy agent's JSONL journal: $ops ops, a crash-resumed line, a torn tail"
run "$bin" gen "$dir/agent.jsonl" --ops "$ops" --resumed --torn-tail

step "2. Migrate it into a store: streaming, atomic, verified"
run "$bin" migrate "$dir/agent.jsonl" "$dir/agent.db"

step "3. Verify the store against the log, independently"
run "$bin" verify "$dir/agent.jsonl" "$dir/agent.db"

step "4. Inspect"
run "$bin" stats "$dir/agent.db"
printf '$ %s\n' "$bin inflight $dir/agent.db > $dir/inflight.txt; head -n 6 $dir/inflight.txt"
"$bin" inflight "$dir/agent.db" > "$dir/inflight.txt"
head -n 6 "$dir/inflight.txt"
op=$(awk 'NR == 2 { print $1 }' "$dir/inflight.txt")
run "$bin" get --history "$dir/agent.db" "$op"
run "$bin" tail -n 3 "$dir/agent.db"
run "$bin" check "$dir/agent.db"

step "5. Over the years: a guest's ops, a backup, retention, compaction"
vmid=$("$bin" get --json "$dir/agent.db" "$op" | awk -F': ' '/"vmid"/ { gsub(/,/, "", $2); print $2; exit }')
printf '$ %s\n' "$bin get $dir/agent.db --vmid $vmid > $dir/guest.txt; head -n 4 $dir/guest.txt"
"$bin" get "$dir/agent.db" --vmid "$vmid" > "$dir/guest.txt"
head -n 4 "$dir/guest.txt"
run "$bin" backup "$dir/agent.db" "$dir/agent-backup.db"
run "$bin" prune "$dir/agent.db" --before 2026-01-05T20:00:00Z
run "$bin" compact "$dir/agent.db"
run "$bin" check "$dir/agent.db"

step "6. Side by side on this disk: the legacy JSONL journal and the store"
mkdir -p "$dir/bench"
run "$bin" bench --quick --dir "$dir/bench" --plot "$dir/charts"

step "Done. Charts: $dir/charts"
