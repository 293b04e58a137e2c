package sasl_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// kcatPath finds kcat, failing (never skipping) with how to install it.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not on PATH (%v): run `make test-deps`, which installs it (Debian package kcat)", err)
	}
	return p
}

// kcat runs kcat against the SASL listener as user with mechanism, with
// stdin, and returns its stdout.
func (sb *saslBroker) kcat(t *testing.T, mech, user, pass, stdin string, args ...string) (string, error) {
	t.Helper()
	return sb.kcatWith(t, []string{"-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=" + mech,
		"-X", "sasl.username=" + user, "-X", "sasl.password=" + pass}, stdin, args...)
}

// kcatWith runs kcat against the SASL listener with the client settings
// props (-X pairs) and args.
func (sb *saslBroker) kcatWith(t *testing.T, props []string, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	all := append(append([]string{"-b", sb.SASL}, props...), args...)
	cmd := exec.CommandContext(ctx, kcatPath(t), all...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%w: %s", err, errb.String())
	}
	return out.String(), err
}

// kcat (librdkafka) produces and consumes over SASL_PLAINTEXT with
// SCRAM-SHA-512 and with PLAIN, and a wrong password fails with
// librdkafka's authentication error.
func TestKcat(t *testing.T) {
	sb := startSASL(t)
	sb.createUser(t, "alice", "alice-Secret-6")
	if _, err := admin(t, sb.Addr()).CreateTopic(t.Context(), 1, 1, nil, "kcat-t"); err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"} {
		if _, err := sb.kcat(t, mech, "alice", "alice-Secret-6", "from-"+mech+"\n", "-P", "-t", "kcat-t"); err != nil {
			t.Fatalf("%s produce: %v", mech, err)
		}
	}
	out, err := sb.kcat(t, "SCRAM-SHA-512", "alice", "alice-Secret-6", "", "-C", "-t", "kcat-t", "-o", "beginning", "-e", "-q")
	if err != nil || out != "from-SCRAM-SHA-512\nfrom-SCRAM-SHA-256\nfrom-PLAIN\n" {
		t.Fatalf("consume: %q %v", out, err)
	}
	_, err = sb.kcat(t, "SCRAM-SHA-512", "alice", sb.secret("wrong-kcat-pw"), "", "-L", "-m", "1")
	if err == nil || !strings.Contains(err.Error(), "invalid credentials with SASL mechanism SCRAM-SHA-512") {
		t.Fatalf("wrong password: %v", err)
	}
}

// kafkaServerLibs finds the jars of Apache Kafka's server distribution,
// where kafka-configs.sh's kafka.admin.ConfigCommand lives: $KAFKI_KAFKA_LIBS
// (what `make unit` sets), else the cache `make kafka-deps` fills
// (~/.cache/kafki/kafka-server-VERSION/libs, VERSION from
// loadtest/loadtest.mk). Missing jars fail the test, never skip it.
func kafkaServerLibs(t *testing.T) string {
	t.Helper()
	libs := os.Getenv("KAFKI_KAFKA_LIBS")
	if libs == "" {
		mk, err := os.ReadFile("../../loadtest/loadtest.mk")
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^KAFKA_SERVER_VERSION\s*\?=\s*(\S+)`).FindSubmatch(mk)
		if m == nil {
			t.Fatal("no KAFKA_SERVER_VERSION in loadtest/loadtest.mk")
		}
		home, _ := os.UserHomeDir()
		libs = filepath.Join(home, ".cache", "kafki", "kafka-server-"+string(m[1]), "libs")
	}
	jars, _ := filepath.Glob(filepath.Join(libs, "kafka_2.13-*.jar"))
	if len(jars) == 0 {
		t.Fatalf("Apache Kafka's server jars are not in %s: run `make kafka-deps`", libs)
	}
	return libs
}

func javaPath(t *testing.T) string {
	t.Helper()
	if home := os.Getenv("JAVA_HOME"); home != "" {
		if p := filepath.Join(home, "bin", "java"); fileExists(p) {
			return p
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java is not on PATH (%v): run `make kafka-deps`", err)
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// kafka-configs.sh (Kafka 4.3's ConfigCommand), logged in over SASL with
// a --command-config file, creates a user that kcat then logs in as,
// describes it, and deletes it again.
func TestKafkaConfigsCreatesUsers(t *testing.T) {
	sb := startSASL(t)
	sb.createUser(t, "admin", "admin-Secret-7")
	libs := kafkaServerLibs(t)
	props := filepath.Join(t.TempDir(), "client.properties")
	err := os.WriteFile(props, []byte("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-Secret-7";`+"\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	configs := func(args ...string) string {
		t.Helper()
		all := append([]string{"--bootstrap-server", sb.SASL, "--command-config", props, "--entity-type", "users"}, args...)
		return runJava(t, libs, "", "kafka.admin.ConfigCommand", all...)
	}
	sb.secret("bob-Secret-7")
	out := configs("--alter", "--add-config", "SCRAM-SHA-512=[iterations=8192,password=bob-Secret-7]", "--entity-name", "bob")
	if !strings.Contains(out, "Completed updating config for user bob") {
		t.Fatalf("kafka-configs --alter: %s", out)
	}
	if _, err := sb.kcat(t, "SCRAM-SHA-512", "bob", "bob-Secret-7", "", "-L", "-m", "10"); err != nil {
		t.Fatalf("kcat as the user kafka-configs created: %v", err)
	}
	out = configs("--describe", "--entity-name", "bob")
	if !strings.Contains(out, "SCRAM-SHA-512=iterations=8192") {
		t.Fatalf("kafka-configs --describe: %s", out)
	}
	configs("--alter", "--delete-config", "SCRAM-SHA-512", "--entity-name", "bob")
	if _, err := sb.kcat(t, "SCRAM-SHA-512", "bob", "bob-Secret-7", "", "-L", "-m", "1"); err == nil {
		t.Fatal("kcat logs in as a deleted user")
	}
}

// runJava runs one of Kafka's tool main classes with stdin and returns its
// stdout, failing the test if it fails.
func runJava(t *testing.T, libs, stdin, main string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	jvm := []string{"-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m",
		"-Dlog4j2.configurationFile=" + mustAbs(t, "../compat/tools-log4j2.properties"),
		"-cp", filepath.Join(libs, "*"), main}
	cmd := exec.CommandContext(ctx, javaPath(t), append(jvm, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s\n%s", main, args, err, out.String(), errb.String())
	}
	return out.String()
}

// Kafka 4.3's console producer and consumer, logged in with PLAIN
// through a client.properties file, round-trip records.
func TestKafkaConsoleClientsWithPlain(t *testing.T) {
	sb := startSASL(t)
	sb.createUser(t, "frank", "frank-Secret-11")
	if _, err := admin(t, sb.Addr()).CreateTopic(t.Context(), 1, 1, nil, "java-t"); err != nil {
		t.Fatal(err)
	}
	libs := kafkaServerLibs(t)
	props := filepath.Join(t.TempDir(), "client.properties")
	err := os.WriteFile(props, []byte("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="frank" password="frank-Secret-11";`+"\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	runJava(t, libs, "one\ntwo\n", "org.apache.kafka.tools.ConsoleProducer",
		"--bootstrap-server", sb.SASL, "--topic", "java-t", "--command-config", props)
	out := runJava(t, libs, "", "org.apache.kafka.tools.consumer.ConsoleConsumer",
		"--bootstrap-server", sb.SASL, "--topic", "java-t", "--command-config", props,
		"--from-beginning", "--max-messages", "2", "--timeout-ms", "30000")
	if out != "one\ntwo\n" {
		t.Fatalf("console consumer read %q", out)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
