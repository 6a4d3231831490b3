# opjournal: the front door. `make demo` runs the main job, `make test` the tests.
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT   := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
DEMO        ?= demo
PKGS        := ./...

.PHONY: all build test test-short test-crash test-powerloss vet fmt fmt-check lint bench bench-store bench-retention bench-compare bench-migrate benchstat fuzz demo clean

all: build test

build:
	$(GO) build -o bin/opjournal ./cmd/opjournal

## test: vet, then every test with the race detector (what CI runs)
test: vet fmt-check
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

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
	rm -rf bin $(DEMO) bench-store.txt bench-migrate.txt powerloss.txt

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
