# Make fragment for the Kafka compatibility suite (brokerd/compat), included
# from the top-level Makefile. compat-deps installs Java 17+ and Maven when
# missing (Debian packages) and fetches Apache Kafka's tools and Java client
# jars into a cache outside the repository; the tests read the classpath it
# writes (see brokerd/compat/deps.sh). Quick when everything is cached.

COMPAT_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

.PHONY: compat-deps compat

compat-deps:
	@bash $(COMPAT_DIR)deps.sh

# compat runs only the compatibility suite (it is also part of `go test ./...`).
compat: compat-deps kafka-deps
	KAFKI_KAFKA_LIBS=$(KAFKA_SERVER_LIBS) $(GO) test -count=1 -timeout 10m ./brokerd/compat/

# connect runs a single-node broker on 127.0.0.1:9092 and a Kafka Connect
# distributed worker (Apache Kafka's jars) with its REST API on
# 127.0.0.1:8083, data in $(DATA)/connect; Ctrl-C stops both. README.md,
# "Kafka Connect", shows how to post the FileStream connectors.
.PHONY: connect
connect: compat-deps
	$(GO) build -o $(BIN)/ ./brokerd/cmd/brokerd
	bash $(COMPAT_DIR)connect.sh $(BIN)/brokerd $(DATA)/connect

# mm2-bench mirrors MM2_BENCH_RECORDS 1 KiB records from a real Apache
# Kafka 4.3 node into brokerd with MirrorMaker 2, after the migration test,
# and prints the throughput (README's Performance, "MirrorMaker 2").
MM2_BENCH_RECORDS ?= 200000
.PHONY: mm2-bench
mm2-bench: compat-deps kafka-deps
	KAFKI_KAFKA_LIBS=$(KAFKA_SERVER_LIBS) KAFKI_MM2_BENCH_RECORDS=$(MM2_BENCH_RECORDS) \
	  $(GO) test -count=1 -v -timeout 15m -run '^TestMirrorMaker2FromKafka$$' ./brokerd/compat/ | grep -E 'MM2|^(---|ok|FAIL|PASS)'
