// Package compat holds the compatibility suite against clients no one here
// wrote: Apache Kafka's own command-line tools and Java client (4.x, jars
// from Maven Central), run against a real brokerd process.
//
// The package has no code of its own; its tests are the point. They build
// brokerd, start it on a free loopback port with a fresh data directory, and
// run Kafka's tool main classes with `java -cp <classpath>`: the classic
// quickstart (kafka-topics create/list/describe, console producer and
// consumer), kafka-topics alter/delete, the console producer in every codec
// read back by the console consumer, kafka-producer-perf-test with
// kafka-get-offsets, and Java consumer groups split over two console
// consumers (the default range assignor, and the cooperative-sticky one
// with a member joining a group that already owns every partition) with
// kafka-consumer-groups describing their lag. The tests that
// need the group coordinator are in compat_groups_test.go. cluster_test.go
// runs the same tools against a 3-broker cluster (RF 3): describe shows
// replicas and ISR, producers and consumers carry on across a SIGKILLed
// leader, and a group's committed offsets survive the death of its
// coordinator. acls_test.go adds, lists and removes ACLs with kafka-acls
// against a broker with Kafka's authorizer class configured.
// transactions_test.go runs kafka-transactions.sh list, describe,
// describe-producers and abort of a hanging transaction.
//
// Transactions (issue 17): txn_java_test.go drives Kafka's transactional
// producer and read_committed consumer through TxnShell, a program of the
// suite's own (committed and aborted transactions, the last stable offset
// held by an open one, fencing by a second producer of a transactional id,
// the coordinator aborting a transaction past its timeout);
// txn_copier_test.go runs Kafka's TransactionalMessageCopier, the
// consume-transform-produce of Kafka's system tests, with random aborts
// and a SIGKILL mid-stream; streams_test.go runs a Kafka Streams word
// count with exactly_once_v2 (repartition topic, state store with a
// compacted changelog), SIGKILLed mid-stream and restarted, and compares
// the counts with the input's.
//
// The suite's own Java programs are in java/ (package io.kafki.compat):
// the harness compiles them with javac against the Kafka jars into a
// cache directory beside the classpath file, named by the hash of the
// sources and the classpath (javac_test.go). KAFKI_COMPAT_LOG4J names a
// log4j2 configuration for them in place of tools-log4j2.properties, e.g.
// NetworkClient at DEBUG to see every request's API key and version.
//
// The assertions were checked against Apache Kafka 4.3.1 itself (a KRaft
// broker from the kafka_2.13 jar), so they state Kafka's behaviour, not
// brokerd's.
//
// Requirements, never skipped: a java (JAVA_HOME/bin/java, else PATH) of
// version 17 or later with its javac (a JDK), and the Kafka jars' classpath, from the environment
// variable KAFKI_KAFKA_CLASSPATH or else the file that deps.sh writes
// (${KAFKI_KAFKA_CACHE:-$XDG_CACHE_HOME or ~/.cache/kafki}/kafka-VERSION/
// classpath, VERSION being kafka.version in pom.xml). `make compat-deps`
// installs and fetches both; a test finding either missing fails saying so.
package compat
