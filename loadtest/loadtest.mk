# loadtest.mk: the load generator and the Kafki vs Apache Kafka comparison.
# Included from the top-level Makefile (which defines GO and BIN).
#
#   make loadtest        builds bin/loadtest
#   make kafka-deps      fetches Apache Kafka's broker and tools jars (mvn)
#   make bench-compare   runs the side-by-side comparison (about 6 minutes;
#                        Kafki's three-node setup needs moto_server:
#                        pip install 'moto[server]')
#   make bench-txn       transactional vs idempotent produce, read_committed
#                        vs read_uncommitted (BENCH_TXN_KAFKA=1: and Kafka)
#   make bench-tls       produce and read-back throughput and produce p99,
#                        PLAINTEXT vs SSL (mTLS) vs SASL_SSL (SCRAM-SHA-512),
#                        one broker, interleaved rounds (about 4 minutes)
#
# The jars go to a cache outside the repository, separate from the one the
# compatibility suite (brokerd/compat) uses.

KAFKA_SERVER_VERSION ?= 4.3.1
KAFKA_SERVER_CACHE   ?= $(HOME)/.cache/kafki/kafka-server-$(KAFKA_SERVER_VERSION)
KAFKA_SERVER_LIBS    := $(KAFKA_SERVER_CACHE)/libs
BENCH_OUT            ?= $(BIN)/bench-compare
# Extra flags for loadtest compare, e.g. BENCH_FLAGS='--fsync=per-ack'.
BENCH_FLAGS          ?=

.PHONY: loadtest kafka-deps bench-compare

loadtest:
	$(GO) build -o $(BIN)/ ./loadtest/cmd/...

# A marker file records a complete download, so an interrupted one is
# redone rather than used.
kafka-deps: $(KAFKA_SERVER_CACHE)/.complete

$(KAFKA_SERVER_CACHE)/.complete: loadtest/kafka/pom.xml
	@command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1 || { \
	  echo "installing openjdk-17-jdk-headless and maven (Debian packages) for Apache Kafka"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null; }
	@mkdir -p $(KAFKA_SERVER_CACHE)
	mvn -q -B -f loadtest/kafka/pom.xml \
	  -Dmaven.repo.local=$(KAFKA_SERVER_CACHE)/m2 \
	  -Dkafka.version=$(KAFKA_SERVER_VERSION) \
	  dependency:copy-dependencies -DincludeScope=runtime \
	  -DoutputDirectory=$(KAFKA_SERVER_LIBS)
	@touch $@

bench-compare: kafka-deps loadtest
	$(GO) build -o $(BIN)/ ./brokerd/cmd/brokerd ./brokerd/cmd/kafki-dev-cluster
	$(BIN)/loadtest compare --kafki-bin=$(BIN)/brokerd --kafki-cluster-bin=$(BIN)/kafki-dev-cluster --kafka-libs=$(KAFKA_SERVER_LIBS) --out=$(BENCH_OUT) $(BENCH_FLAGS)

# --- TLS cost (issue 12) ---
BENCH_TLS_ROUNDS   ?= 4
BENCH_TLS_DURATION ?= 8s
.PHONY: bench-tls
bench-tls: loadtest
	$(GO) build -o $(BIN)/ ./brokerd/cmd/brokerd ./brokerd/cmd/kafki
	sh loadtest/bench-tls.sh $(BIN) $(BENCH_TLS_ROUNDS) $(BENCH_TLS_DURATION)

# --- Transactions (issue 17) ---
# bench-txn: on one brokerd, idempotent produce vs transactional produce
# with commits every 1, 100 and 10,000 records, and read_committed vs
# read_uncommitted read-back, interleaved rounds (about 5 minutes); then,
# with BENCH_TXN_KAFKA=1, the same produce modes and the consume workload's
# read_committed vs read_uncommitted through loadtest compare against
# Kafki and Apache Kafka 4.3 (single node; about 6 minutes more).
BENCH_TXN_ROUNDS   ?= 3
BENCH_TXN_DURATION ?= 8s
BENCH_TXN_KAFKA    ?= 0
BENCH_TXN_OUT      ?= $(BIN)/bench-txn
BENCH_TXN_COMPARE  := --kafki-bin=$(BIN)/brokerd --kafka-libs=$(KAFKA_SERVER_LIBS) --setups=single \
  --perf-records=0 --duration=$(BENCH_TXN_DURATION) --warmup=5s --progress=0
.PHONY: bench-txn
bench-txn: loadtest
	$(GO) build -o $(BIN)/ ./brokerd/cmd/brokerd
	sh loadtest/bench-txn.sh $(BIN) $(BENCH_TXN_ROUNDS) $(BENCH_TXN_DURATION)
	@if [ "$(BENCH_TXN_KAFKA)" = 1 ]; then set -e; $(MAKE) --no-print-directory kafka-deps; \
	  for n in 0 1 100 10000; do \
	    txn=; [ $$n = 0 ] || txn="--transactional-id=bench-$$n --transaction-records=$$n"; \
	    echo "== loadtest compare, produce, transaction records $$n (0: idempotent)"; \
	    $(BIN)/loadtest compare $(BENCH_TXN_COMPARE) --workloads=produce $$txn --out=$(BENCH_TXN_OUT)/produce-$$n | grep '^|'; \
	  done; \
	  for iso in read_uncommitted read_committed; do \
	    echo "== loadtest compare, consume, $$iso"; \
	    $(BIN)/loadtest compare $(BENCH_TXN_COMPARE) --workloads=consume --isolation=$$iso --out=$(BENCH_TXN_OUT)/consume-$$iso | grep '^|'; \
	  done; \
	fi
