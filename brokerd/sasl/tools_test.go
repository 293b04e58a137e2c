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
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	all := append([]string{"-b", sb.SASL, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=" + mech,
		"-X", "sasl.username=" + user, "-X", "sasl.password=" + pass}, args...)
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
// where kafka-configs.sh's kafka.admin.ConfigCommand lives (`make
// compat-deps` fetches them).
func kafkaServerLibs(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("KAFKI_KAFKA_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "kafki")
	}
	pom, err := os.ReadFile("../compat/pom.xml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindSubmatch(pom)
	if m == nil {
		t.Fatal("no kafka.version in brokerd/compat/pom.xml")
	}
	libs := filepath.Join(cache, "kafka-server-"+string(m[1]), "libs")
	if _, err := os.Stat(filepath.Join(libs, "kafka_2.13-"+string(m[1])+".jar")); err != nil {
		t.Fatalf("Kafka %s's server jars are not in %s (%v): run `make compat-deps`", m[1], libs, err)
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
		t.Fatalf("java is not on PATH (%v): run `make compat-deps`", err)
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
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		jvm := []string{"-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m",
			"-Dlog4j2.configurationFile=" + mustAbs(t, "../compat/tools-log4j2.properties"),
			"-cp", filepath.Join(libs, "*"), "kafka.admin.ConfigCommand",
			"--bootstrap-server", sb.SASL, "--command-config", props, "--entity-type", "users"}
		cmd := exec.CommandContext(ctx, javaPath(t), append(jvm, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("kafka-configs %v: %v\n%s\n%s", args, err, out.String(), errb.String())
		}
		return out.String()
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

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
