# opjournal: the front door. `make demo` runs the main job, `make test` the tests.
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT   := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
DEMO        ?= demo
PKGS        := ./...

.PHONY: all build cross test test-short test-crash test-powerloss vet fmt fmt-check lint bench bench-store bench-retention bench-compare bench-peers bench-migrate benchstat fuzz demo clean

all: build test

build:
	$(GO) build -buildvcs=auto -o bin/opjournal ./cmd/opjournal

## cross: the packages build for every OS the journal supports
CROSS_OS := linux darwin freebsd windows
cross:
	@for os in $(CROSS_OS); do GOOS=$$os $(GO) build $(PKGS) || { echo "build for $$os failed"; exit 1; }; done

## test: vet, gofmt check, cross builds, then every test with the race detector (what CI runs),
## ending with the tests that skipped and why
test: vet fmt-check cross
	bash -o pipefail -c '$(GO) test -race -count=1 -timeout 20m -json $(PKGS) | $(GO) run ./scripts/testsummary'

test-short:
	$(GO) test -short -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint:
	$(GO) run $(STATICCHECK) $(PKGS)

## bench: the store's and migration's go benchmarks against the JSONL baseline, side by side
bench: bench-store bench-migrate

bench-store:
	$(GO) test ./store -run '^$$' -bench . -benchtime 2s -count 3 | tee bench-store.txt

# One scenario on a journal of 10^6 ops: size and appends before and after a
# year of pruning and a compaction, and Backup throughput.
bench-retention:
	OPJOURNAL_BENCH_OPS=1000000 $(GO) test ./store -run '^$$' -bench Retention -benchtime 1x -timeout 60m | tee bench-retention.txt

## bench-compare: store vs legacy JSONL appends at 1/16/64/256 writers, in interleaved rounds (ROUNDS=5)
bench-compare:
	./scripts/bench-compare.sh $(or $(ROUNDS),5) | tee bench-compare.txt

## bench-peers: the store against the legacy JSONL journal, SQLite (plain and batched) and Pebble, the same
## workload with time-ordered and scattered op ids, in interleaved rounds (ROUNDS=5; more flags in PEERS_FLAGS,
## e.g. PEERS_FLAGS='-ops 1000000 -runtime 2s'); prints the table, writes bench-peers.png. bench/peers is a
## module of its own: opjournal does not depend on SQLite or Pebble.
bench-peers:
	cd bench/peers && $(GO) run ./cmd/bench-peers -rounds $(or $(ROUNDS),5) -chart $(CURDIR)/bench-peers.png $(PEERS_FLAGS) | tee $(CURDIR)/bench-peers.txt

bench-migrate:
	$(GO) test ./migrate -run '^$$' -bench 'Migrate/ops=100000' -benchtime 1x -count 3 | tee bench-migrate.txt

benchstat:
	$(GO) run $(BENCHSTAT) -col /impl bench-store.txt

## fuzz: each fuzz target for FUZZTIME (default 5m); CI runs only the seeds
FUZZTIME ?= 5m
fuzz:
	$(GO) test ./codec -run '^$$' -fuzz '^FuzzDecodeRecord$$' -fuzztime $(FUZZTIME)
	$(GO) test ./codec -run '^$$' -fuzz '^FuzzDecodeRecordBody$$' -fuzztime $(FUZZTIME)
	$(GO) test ./store/jsonl -run '^$$' -fuzz '^FuzzParseLine$$' -fuzztime $(FUZZTIME)

## demo: generate a legacy log, migrate, verify, inspect, compare side by side
demo: build
	./scripts/demo.sh $(DEMO)

clean:
	rm -rf bin $(DEMO) bench-store.txt bench-migrate.txt bench-peers.txt bench-peers.png powerloss.txt

## test-crash: 1,000 SIGKILL trials of an appending child (and 50 killed migrations)
test-crash:
	OPJOURNAL_CRASH_TRIALS=1000 $(GO) test -count=1 -timeout 60m -run 'Crash|Kill|FailedFsync|Killed' -v ./store ./migrate | grep -E '^(---|ok|FAIL)|trials|killed migrations'

## test-powerloss: the power-loss trials at scale (faultfs, root and /dev/fuse): POWERLOSS_SCALE times
## longer workloads, POWERLOSS_STATES crash states drawn per workload; prints the distinct states checked
POWERLOSS_SCALE  ?= 8
POWERLOSS_STATES ?= 5000
test-powerloss:
	@OPJOURNAL_POWERLOSS_SCALE=$(POWERLOSS_SCALE) OPJOURNAL_POWERLOSS_STATES=$(POWERLOSS_STATES) \
		$(GO) test -count=1 -timeout 60m -run 'PowerLoss|FaultFS' -v ./store ./migrate > powerloss.txt; rc=$$?; \
	grep -E '^(--- |ok|FAIL|panic)|crash states|caught|SKIP|seed' powerloss.txt; \
	sed -nE 's/.* ([0-9]+) crash states \(([0-9]+) distinct\) checked, ([0-9]+) failed.*/\1 \2 \3/p' powerloss.txt | \
		awk '{ n++; s += $$1; d += $$2; f += $$3 } END { printf "power loss: %d workload runs, %d crash states (%d distinct) checked, %d failed\n", n, s, d, f }'; \
	exit $$rc
