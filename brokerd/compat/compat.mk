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
compat: compat-deps
	$(GO) test -count=1 -timeout 10m ./brokerd/compat/

# connect runs a single-node broker on 127.0.0.1:9092 and a Kafka Connect
# distributed worker (Apache Kafka's jars) with its REST API on
# 127.0.0.1:8083, data in $(DATA)/connect; Ctrl-C stops both. README.md,
# "Kafka Connect", shows how to post the FileStream connectors.
.PHONY: connect
connect: compat-deps
	$(GO) build -o $(BIN)/ ./brokerd/cmd/brokerd
	bash $(COMPAT_DIR)connect.sh $(BIN)/brokerd $(DATA)/connect
