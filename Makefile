# Kafki. `make run` starts a single-node broker; `make test` installs what
# the tests need and runs the whole suite. See README.md.

GO        ?= go
BIN       := $(CURDIR)/bin
DATA      ?= $(CURDIR)/data
PKGS      := ./...
# Packages with concurrency worth the race detector.
RACE_PKGS := ./brokerd/replication/... ./brokerd/interbroker/... ./brokerd/auth/... ./brokerd/lease/... ./brokerd/cluster/... ./brokerd/node/... ./brokerd/internal/checker/... ./brokerd/internal/clusterproc/... ./brokerd/storage/... ./brokerd/batch/... ./brokerd/server/... ./brokerd/topics/... ./brokerd/meta/... ./brokerd/metastore/... ./brokerd/broker/... ./brokerd/cli/... ./brokerd/groups/... ./brokerd/txn/... ./loadtest/... ./tiering/...
RACE_PKGS += ./brokerd/sasl/... # SASL (issue 12)
FUZZTIME  ?= 15s
# Minimizing a new input is bounded by executions, not time: a short run
# then keeps fuzzing. With a 5s bound, FuzzRecover (a few ms per input,
# files on disk) spent its 15 s minimizing and ran 67 inputs; with 200x
# it runs about 1,700, and every target finds more new coverage.
FUZZMINIMIZETIME ?= 200x

.PHONY: all build run dev-cluster test test-deps vet cyclo unit race fuzz e2e bench bench-go bench-e2e bench-compaction clean chaos infra-deps infra-test brokerd-linux synth deploy

all: build

build:
	$(GO) build -o $(BIN)/ ./brokerd/cmd/... ./loadtest/cmd/... ./lambdas/cmd/...

run: build
	@echo "Kafki broker on 127.0.0.1:9092, data in $(DATA) (Ctrl-C stops it)."
	@echo "  create:  $(BIN)/kafki topics create --topic quickstart --partitions 3"
	@echo "  produce: $(BIN)/kafki produce --topic quickstart      (type lines, Ctrl-D ends)"
	@echo "  consume: $(BIN)/kafki consume --topic quickstart --from-beginning"
	@echo "  or any Kafka client, e.g.: kcat -b 127.0.0.1:9092 -t quickstart -C"
	@echo "  metrics: http://127.0.0.1:9644/metrics"
	$(BIN)/brokerd --listen=127.0.0.1:9092 --data.dir=$(DATA)

# dev-cluster runs moto_server (as DynamoDB) and 3 brokers on free loopback
# ports, data in $(DATA)/dev-cluster, and prints how to reach them (Ctrl-C
# stops it). Needs moto_server: pip install 'moto[server]'.
dev-cluster: build
	$(BIN)/kafki-dev-cluster --brokerd $(BIN)/brokerd --dir $(DATA)/dev-cluster

# test installs what the suite needs on a fresh machine (kcat, moto_server,
# Kafka's client jars for brokerd/compat, Kafka's broker jars for the Kafka
# side of loadtest/compare), then runs it all.
test: test-deps lambdas-deps compat-deps kafka-deps vet cyclo build lambdas unit race fuzz infra-test localstack-test-short
	@echo "make test: all suites passed"

test-deps:
	@command -v kcat >/dev/null 2>&1 || { \
	  echo "installing kcat (Debian package) for the compatibility tests"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null; }
	@command -v kcat >/dev/null 2>&1 || { echo "kcat is required and could not be installed"; exit 1; }
	@command -v moto_server >/dev/null 2>&1 || { \
	  echo "installing moto_server (PyPI moto[server]) for the AWS API tests"; \
	  python3 -m pip install -q 'moto[server]'; }

# cyclo keeps the packages a new engineer reads first (membership, the
# controller, the configuration) free of functions too branchy to follow:
# none above cyclomatic complexity 20, test code aside.
CYCLO_PKGS := ./brokerd/node ./brokerd/cluster ./brokerd/config ./brokerd/replication ./brokerd/interbroker ./brokerd/txn
# Kafka ACLs: the authorizer is read on every request by every connection.
CYCLO_PKGS += ./brokerd/acl
RACE_PKGS  += ./brokerd/acl/...
cyclo:
	$(GO) run github.com/fzipp/gocyclo/cmd/gocyclo@v0.6.0 -over 20 -ignore _test $(CYCLO_PKGS)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)

# KAFKI_BROKERD_BIN lets the load generator's test drive the real binary;
# KAFKI_KAFKA_LIBS lets loadtest/compare's test start a real Apache Kafka
# (one JVM, about 8 s on 2 cores), so the Kafka side of README's comparison is tested.
unit: kafka-deps
	KAFKI_LAMBDAS_DIR=$(LAMBDAS_OUT) KAFKI_TRIGGERS_BIN=$(BIN)/kafki-triggers KAFKI_BROKERD_BIN=$(BIN)/brokerd KAFKI_KAFKA_LIBS=$(KAFKA_SERVER_LIBS) $(GO) test -count=1 -timeout 15m $(PKGS)

race:
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)
	KAFKI_LAMBDAS_DIR=$(LAMBDAS_OUT) $(GO) test -count=1 -race -timeout 10m \
	  -run 'TestDelivers|TestBisect|TestFailing|TestStarting|TestMaxRecordAge|TestDeleted|TestMem|TestAdmin|TestMergeStatus|TestStatusWith' ./lambdas/triggers

# Short fuzz runs of every fuzz target: request decoding, consumer group
# state loaded from __consumer_offsets, batch validation, log recovery and
# producer snapshots. Longer: make fuzz FUZZTIME=10m.
FUZZ_TARGETS := server:FuzzRequest groups:FuzzLoad batch:FuzzValidate batch:FuzzRecords batch:FuzzSplit storage:FuzzRecover storage:FuzzSnapshot txn:FuzzDecode tlsconf:FuzzPrincipalRules
# SASL (issue 12): the PLAIN and SCRAM parsers, and a SASL listener's connection.
FUZZ_TARGETS += sasl:FuzzPlain sasl:FuzzScram server:FuzzSASLConnection
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$fn ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./brokerd/$$pkg; \
	done

# chaos soaks a real 3-broker cluster (brokerd processes, moto_server as
# DynamoDB) under repeated kills and pauses and checks the history for lost,
# moved or retracted records (brokerd/chaos). Needs moto: make test-deps.
# CHAOS_ROUNDS repeats the fault sequence; the failover times go to
# CHAOS_REPORT as JSON.
CHAOS_ROUNDS ?= 10
CHAOS_REPORT ?= $(DATA)/chaos-report.json
# CHAOS_SECURITY=SASL_SSL runs the same faults on brokers whose only
# listeners are SASL_SSL (replication as the inter-broker user, the
# workload on TLS and SCRAM-SHA-512); no network partitions then.
CHAOS_SECURITY ?= PLAINTEXT
chaos:
	@mkdir -p $(dir $(CHAOS_REPORT))
	KAFKI_CHAOS_ROUNDS=$(CHAOS_ROUNDS) KAFKI_CHAOS_REPORT=$(CHAOS_REPORT) KAFKI_CHAOS_SECURITY=$(CHAOS_SECURITY) \
	  $(GO) test -count=1 -v -timeout 60m -run '^TestChaos$$' ./brokerd/chaos

# bench: the go test benchmarks of the hot paths (bench-go), then the end
# to end matrix through loadtest (bench-e2e): for 100 B and 1 KiB records,
# acks=1 and acks=all, a brokerd of its own on loopback, one franz-go
# producer flat out (5 ms linger, 1 MiB batches, 3 partitions) for 10 s
# after a 2 s warm-up, then one consumer reading everything back; the
# broker's peak RSS is sampled. Reports in $(BENCH_E2E_OUT). About a minute.
bench: bench-go bench-e2e

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./brokerd/batch ./brokerd/storage ./brokerd/server ./brokerd/groups

# Compaction (issue 16): cleaning throughput, and a compacted topic under
# a fixed-rate overwrite churn with the cleaner on and off (produce
# latency, bytes on disk each second). About 70 s.
bench-compaction:
	$(GO) test -run '^$$' -bench 'Clean$$' -benchtime 3x ./brokerd/storage
	$(GO) test -run '^$$' -bench CompactedChurn -benchtime 1x ./brokerd/cleaner

BENCH_E2E_OUT   ?= $(BIN)/bench-e2e
BENCH_E2E_SIZES ?= 100 1024
BENCH_E2E_ACKS  ?= 1 all
# The fetch sizes let the read-back carry hundreds of MB/s in a few
# requests a second (kgo's 1 MiB per partition would not).
BENCH_E2E_FLAGS := --partitions=3 --linger=5ms --batch-bytes=1048576 --max-buffered=10000 \
  --duration=10s --warmup=2s --read-back --fetch-max-bytes=50331648 --fetch-partition-bytes=8388608

bench-e2e: build
	@mkdir -p $(BENCH_E2E_OUT)
	@set -e; for size in $(BENCH_E2E_SIZES); do for acks in $(BENCH_E2E_ACKS); do \
	  echo "== $$size B, acks=$$acks"; \
	  $(BIN)/loadtest produce --spawn-broker=$(BIN)/brokerd --record-size=$$size --acks=$$acks $(BENCH_E2E_FLAGS) \
	    --json=$(BENCH_E2E_OUT)/$$size-acks$$acks.json --svg=$(BENCH_E2E_OUT)/$$size-acks$$acks.svg; \
	done; done

clean:
	rm -rf $(BIN)

# Apache Kafka's Java tools and client for the compatibility suite.
include brokerd/compat/compat.mk

# The load-test harness and the side-by-side comparison with Apache Kafka.
include loadtest/loadtest.mk

# lambdas builds every function under lambdas/functions as a provided.al2023
# bootstrap (static linux/amd64, aws-lambda-go without RPC) and zips it:
# build/lambdas/<name>/bootstrap and build/lambdas/<name>.zip (the CDK app
# in infra/ deploys exactly these paths). lambdas-soak runs the long
# trigger soak against MiniStack. See lambdas/README.md.
LAMBDAS_OUT := $(CURDIR)/build/lambdas
LAMBDA_FUNCS := $(filter-out internal,$(notdir $(wildcard lambdas/functions/*)))
.PHONY: lambdas lambdas-deps lambdas-test lambdas-soak lambdas-bench
lambdas:
	@set -e; for f in $(sort $(LAMBDA_FUNCS)); do \
	  mkdir -p $(LAMBDAS_OUT)/$$f; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
	    -o $(LAMBDAS_OUT)/$$f/bootstrap ./lambdas/functions/$$f; \
	  rm -f $(LAMBDAS_OUT)/$$f.zip; (cd $(LAMBDAS_OUT)/$$f && python3 -m zipfile -c ../$$f.zip bootstrap); \
	  echo "built $(LAMBDAS_OUT)/$$f.zip"; \
	done

lambdas-deps:
	@command -v ministack >/dev/null 2>&1 && python3 -c 'import cbor2' 2>/dev/null || { \
	  echo "installing MiniStack (PyPI ministack, cbor2) for the Lambda trigger tests"; \
	  python3 -m pip install -q ministack cbor2; }

# The trigger tests run functions for real in MiniStack (see lambdas/README.md).
lambdas-test: lambdas-deps lambdas build
	KAFKI_LAMBDAS_DIR=$(LAMBDAS_OUT) KAFKI_BROKERD_BIN=$(BIN)/brokerd KAFKI_TRIGGERS_BIN=$(BIN)/kafki-triggers \
	  $(GO) test -count=1 -timeout 10m ./lambdas/...

lambdas-soak: lambdas-deps lambdas build
	KAFKI_LAMBDAS_SOAK=1 KAFKI_LAMBDAS_DIR=$(LAMBDAS_OUT) KAFKI_BROKERD_BIN=$(BIN)/brokerd KAFKI_TRIGGERS_BIN=$(BIN)/kafki-triggers \
	  $(GO) test -count=1 -v -timeout 60m -run 'Soak' ./lambdas/triggers

lambdas-bench: lambdas-deps lambdas build
	KAFKI_LAMBDAS_DIR=$(LAMBDAS_OUT) KAFKI_BROKERD_BIN=$(BIN)/brokerd \
	  $(GO) test -count=1 -run '^$$' -bench Trigger -benchtime 1x -timeout 20m -v ./lambdas/triggers

# The CDK stack (infra/, its own Go module; infra/README.md). The CLI is
# npm aws-cdk pinned in infra/_cli (under "_" so Go tools skip its
# node_modules); cfn-lint comes from PyPI.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := 1
CDK            := $(CURDIR)/infra/_cli/node_modules/.bin/cdk
BROKERD_LINUX  := $(CURDIR)/build/brokerd-linux-amd64
CDK_CONTEXT    ?=
# W3005: CDK writes a DependsOn on the function's role beside the GetAtt
# that already orders it; harmless and not ours to change.
CFN_LINT_FLAGS := --ignore-checks W3005

infra-deps:
	@test -x $(CDK) || (cd infra/_cli && npm ci --no-audit --no-fund --loglevel=error)
	@command -v cfn-lint >/dev/null 2>&1 || python3 -m pip install -q cfn-lint
	cd infra && $(GO) mod download

# The brokers' assets: static linux/amd64 brokerd, kafki and kafki-triggers
# for Amazon Linux 2023.
brokerd-linux:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -o $(BROKERD_LINUX)/ ./brokerd/cmd/brokerd ./brokerd/cmd/kafki ./lambdas/cmd/kafki-triggers

# synth writes cdk.out/ for the real stack; the functions come from
# `make lambdas` (build/lambdas/<name>/bootstrap).
synth: infra-deps brokerd-linux
	$(CDK) synth -q $(CDK_CONTEXT)

deploy: infra-deps brokerd-linux
	$(CDK) deploy $(CDK_CONTEXT)

# infra-test: the assertions tests (table from the schema, bucket, three
# AZs, IAM, security groups, emulator mode, cdk-nag), then `cdk synth`
# from the root in both modes with dummy function binaries, and cfn-lint
# on both templates.
INFRA_TMP := $(CURDIR)/build/infra-test
infra-test: infra-deps brokerd-linux
	cd infra && test -z "$$(gofmt -l $$(git ls-files '*.go'))" && $(GO) vet ./... && $(GO) test -count=1 ./...
	@rm -rf $(INFRA_TMP) && for f in broker-certs dynamodb-sink recorder s3-archiver; do \
	  mkdir -p $(INFRA_TMP)/lambdas/$$f && printf '#!/bin/sh\n' > $(INFRA_TMP)/lambdas/$$f/bootstrap; done
	$(CDK) synth -q -o $(INFRA_TMP)/prod -c lambdaAssets=$(INFRA_TMP)/lambdas -c triggers=orders=recorder
	$(CDK) synth -q -o $(INFRA_TMP)/esm -c lambdaAssets=$(INFRA_TMP)/lambdas -c triggers=orders=recorder -c triggersVia=esm
	$(CDK) synth -q -o $(INFRA_TMP)/plaintext -c lambdaAssets=$(INFRA_TMP)/lambdas -c triggers=orders=recorder -c security=plaintext
	$(CDK) synth -q -o $(INFRA_TMP)/emulator -c lambdaAssets=$(INFRA_TMP)/lambdas -c emulator=true
	cfn-lint $(INFRA_TMP)/prod/Kafki.template.json $(INFRA_TMP)/esm/Kafki.template.json $(INFRA_TMP)/plaintext/Kafki.template.json $(INFRA_TMP)/emulator/Kafki.template.json $(CFN_LINT_FLAGS)
	@echo "infra-test: passed"

# Kafki on a local AWS emulator (localstack/README.md): MiniStack from PyPI
# on 127.0.0.1:4566, the CDK app's emulator mode deployed with the CDK CLI.
.PHONY: localstack-up localstack-deploy localstack-brokers localstack-destroy localstack-down
localstack-up: lambdas-deps
	localstack/emulator.sh up

localstack-deploy: infra-deps lambdas brokerd-linux
	localstack/emulator.sh deploy

localstack-brokers: build
	localstack/emulator.sh brokers

localstack-destroy: infra-deps
	localstack/emulator.sh destroy

localstack-down:
	localstack/emulator.sh down

# ---- The end-to-end suite on local AWS emulators (localstack/e2e) ----
# The whole stack with no AWS account: the CDK app deployed in emulator
# mode with the CDK CLI onto MiniStack, then moto_server, each on a free
# loopback port; three brokers configured from the stack's outputs; kcat;
# a SIGKILLed leader; tiered reads from the emulator's S3; the trigger
# declared in the app firing dynamodb-sink in MiniStack's Lambda; cdk
# destroy checked. localstack-test-short is the part of `make test` (about
# three minutes on 2 cores, one deployment per emulator); localstack-test
# adds the failure cases (emulator stopped and restarted under load, a
# failing function dead-lettered, S3 errors from a fault proxy);
# localstack-bench adds the throughput run and appends the figures to
# $(LOCALSTACK_REPORT). See localstack/README.md.
LOCALSTACK_REPORT ?= $(BIN)/localstack-bench.txt
LOCALSTACK_E2E    := KAFKI_BROKERD_BIN=$(BIN)/brokerd KAFKI_TRIGGERS_BIN=$(BIN)/kafki-triggers KAFKI_LAMBDAS_DIR=$(LAMBDAS_OUT)
.PHONY: localstack-test-short localstack-test localstack-bench
localstack-test-short: test-deps lambdas-deps infra-deps lambdas build
	KAFKI_LOCALSTACK=short $(LOCALSTACK_E2E) $(GO) test -count=1 -timeout 20m ./localstack/e2e

localstack-test: test-deps lambdas-deps infra-deps lambdas build
	KAFKI_LOCALSTACK=long $(LOCALSTACK_E2E) $(GO) test -count=1 -v -timeout 40m ./localstack/e2e

localstack-bench: test-deps lambdas-deps infra-deps lambdas build
	@mkdir -p $(dir $(LOCALSTACK_REPORT))
	KAFKI_LOCALSTACK=short KAFKI_LOCALSTACK_BENCH=1 KAFKI_LOCALSTACK_REPORT=$(LOCALSTACK_REPORT) $(LOCALSTACK_E2E) \
	  $(GO) test -count=1 -v -timeout 30m ./localstack/e2e
