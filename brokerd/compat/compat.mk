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
