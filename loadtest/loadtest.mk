# loadtest.mk: the load generator and the Kafki vs Apache Kafka comparison.
# Included from the top-level Makefile (which defines GO and BIN).
#
#   make loadtest        builds bin/loadtest
#   make kafka-deps      fetches Apache Kafka's broker and tools jars (mvn)
#   make bench-compare   runs the side-by-side comparison (about 6 minutes;
#                        Kafki's three-node setup needs moto_server:
#                        pip install 'moto[server]')
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
