# Kafki. `make run` starts a single-node broker; `make test` installs what
# the tests need and runs the whole suite. See README.md.

GO        ?= go
BIN       := $(CURDIR)/bin
DATA      ?= $(CURDIR)/data
PKGS      := ./...
# Packages with concurrency worth the race detector.
RACE_PKGS := ./brokerd/storage/... ./brokerd/server/... ./brokerd/topics/... ./brokerd/meta/... ./brokerd/broker/...
FUZZTIME  ?= 15s

.PHONY: all build run test test-deps vet unit race fuzz e2e bench bench-go bench-e2e clean

all: build

build:
	$(GO) build -o $(BIN)/ ./brokerd/cmd/...

run: build
	@echo "Kafki broker on 127.0.0.1:9092, data in $(DATA) (Ctrl-C stops it)."
	@echo "  create:  $(BIN)/kafki topics create --topic quickstart --partitions 3"
	@echo "  produce: $(BIN)/kafki produce --topic quickstart      (type lines, Ctrl-D ends)"
	@echo "  consume: $(BIN)/kafki consume --topic quickstart --from-beginning"
	@echo "  or any Kafka client, e.g.: kcat -b 127.0.0.1:9092 -t quickstart -C"
	@echo "  metrics: http://127.0.0.1:9644/metrics"
	$(BIN)/brokerd --listen=127.0.0.1:9092 --data.dir=$(DATA)

# test installs what the suite needs on a fresh machine, then runs it all.
test: test-deps vet build unit race fuzz
	@echo "make test: all suites passed"

test-deps:
	@command -v kcat >/dev/null 2>&1 || { \
	  echo "installing kcat (Debian package) for the compatibility tests"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null; }
	@command -v kcat >/dev/null 2>&1 || { echo "kcat is required and could not be installed"; exit 1; }

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)

unit:
	$(GO) test -count=1 -timeout 15m $(PKGS)

race:
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)

# Short fuzz runs of every fuzz target: request decoding and batch validation.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME) ./brokerd/batch
	$(GO) test -run '^$$' -fuzz '^FuzzSplit$$' -fuzztime $(FUZZTIME) ./brokerd/batch
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) ./brokerd/server

bench: bench-go bench-e2e

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./brokerd/batch ./brokerd/storage ./brokerd/server

bench-e2e: build
	$(BIN)/kafki-perf --spawn-broker $(BIN)/brokerd

clean:
	rm -rf $(BIN)
