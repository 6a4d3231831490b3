#!/usr/bin/env bash
# bench-compare.sh [ROUNDS]: durable appends of the store against the legacy
# JSONL journal (and, at 1 writer, a bare one-record bbolt db.Update into a
# growing bucket and bbolt's smallest commit, one value overwritten), in
# interleaved rounds: each round runs every case once, 2 s each, so that
# drift in this machine's disk and load hits both sides alike. Prints every
# run, then per case the median appends/s and the median of the per-round
# ratios; the floors' own ratios to the legacy show what bbolt allows. Uses
# BenchmarkCompareAppend in ./store.
set -euo pipefail
rounds=${1:-5}
bin=$(mktemp -d)/store.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./store
cases=(1/impl=bbolt 1/impl=jsonl 1/impl=bbolt-newop 1/impl=bolt-update 1/impl=bolt-minimal 16/impl=bbolt 16/impl=jsonl 64/impl=bbolt 64/impl=jsonl 256/impl=bbolt 256/impl=jsonl)
for r in $(seq "$rounds"); do
	for c in "${cases[@]}"; do
		# -test.bench matches each part of the name by regexp: anchor them.
		w=${c%%/*}
		impl=${c#*/impl=}
		( cd store && "$bin" -test.run '^$' -test.bench "^BenchmarkCompareAppend\$/^writers=$w\$/^impl=$impl\$" -test.benchtime 2s ) |
			awk -v r="$r" -v w="$w" -v impl="$impl" '/appends\/s/ { for (i = 1; i <= NF; i++) if ($(i+1) == "appends/s") print r, w, impl, $i }'
	done
done | tee /dev/stderr | awk '
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ v[$1, $2, $3] = $4; all[$2, $3] = all[$2, $3] " " $4; rounds[$1] = 1; ws[$2] = 1 }
END {
	printf "%8s %12s %12s %12s %12s %12s %14s\n", "writers", "store/s", "jsonl/s", "store/jsonl", "store/bare", "bare/jsonl", "minimal/jsonl"
	split("1 16 64 256", order, " ")
	for (k = 1; k <= 4; k++) {
		w = order[k]
		if (!(w in ws)) continue
		rj = ""; rb = ""; bj = ""; mj = ""
		for (r in rounds) {
			rj = rj " " v[r, w, "bbolt"] / v[r, w, "jsonl"]
			if ((r SUBSEP w SUBSEP "bolt-update") in v) {
				rb = rb " " v[r, w, "bbolt"] / v[r, w, "bolt-update"]
				bj = bj " " v[r, w, "bolt-update"] / v[r, w, "jsonl"]
			}
			if ((r SUBSEP w SUBSEP "bolt-minimal") in v) mj = mj " " v[r, w, "bolt-minimal"] / v[r, w, "jsonl"]
		}
		printf "%8s %12.0f %12.0f %11.2fx %11s %11s %13s\n", w, median(all[w, "bbolt"]), median(all[w, "jsonl"]), median(rj),
			rb == "" ? "-" : sprintf("%.2fx", median(rb)), bj == "" ? "-" : sprintf("%.2fx", median(bj)), mj == "" ? "-" : sprintf("%.2fx", median(mj))
	}
	# One writer, every append a new op with a key (impl bbolt-newop), against the bare update.
	nb = ""; lo = ""; hi = ""
	for (r in rounds) if ((r SUBSEP 1 SUBSEP "bbolt-newop") in v && (r SUBSEP 1 SUBSEP "bolt-update") in v) {
		x = v[r, 1, "bbolt-newop"] / v[r, 1, "bolt-update"]
		nb = nb " " x
		if (lo == "" || x < lo) lo = x
		if (hi == "" || x > hi) hi = x
	}
	if (nb != "") printf "1 writer, every append a new op with a key: %.0f/s, %.2fx (%.2f-%.2f) the bare update\n", median(all[1, "bbolt-newop"]), median(nb), lo, hi
}'
