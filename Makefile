# apptbridge — see README.md. `make run` and `make test` are the two
# commands a fresh machine with Go needs.
GO       ?= go
BIN      ?= bin/apptbridge
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 30s
# package:FuzzTarget pairs run by `make fuzz`
FUZZ_TARGETS := $(shell for f in $$(grep -rlE --include='*_test.go' '^func Fuzz' .); do \
	for t in $$(grep -oE '^func Fuzz[A-Za-z0-9_]+' $$f | cut -d' ' -f2); do echo "$$(dirname $$f):$$t"; done; done | sort -u)

.PHONY: all build run test test-short lint fuzz bench bench-go bench-mllp bench-reminders conformance check-ops clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/apptbridge

run: build
	./$(BIN) serve

test: lint build check-ops
	$(GO) test -race -count=1 -timeout 20m ./...
	./$(BIN) conformance

test-short:
	$(GO) test -short -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  GO=$(GO) ./scripts/fuzz.sh $${t%%:*} $${t##*:} $(FUZZTIME); \
	done

conformance: build
	./$(BIN) conformance

# The operations kit (deploy/, Dockerfile) against the code and a running
# `serve`: promtool lint of /metrics, alert rules and their unit tests, the
# Prometheus config, the Grafana dashboard, metric names (scripts/check-ops.sh).
check-ops: build
	APPTBRIDGE_BIN=$(BIN) ./scripts/check-ops.sh

# Go benchmarks (parse, map, ingest, store) and the MLLP load against
# `apptbridge serve` with the shared harness's loadgen.
bench: bench-go bench-mllp bench-reminders

# 1,000,000 scheduled appointments, 10,000 reminders due in one minute
# (about 3 minutes: the load, then one minute of real time).
bench-reminders:
	$(GO) test -run='^$$' -bench=BenchmarkReminders1M -benchtime=1x -timeout 20m ./reminder/

bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./hl7/ ./mapping/ ./ingest/ ./store/... ./mllp/ ./notify/

bench-mllp: build
	./scripts/bench-mllp.sh

clean:
	rm -rf bin
