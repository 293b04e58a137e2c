package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func TestGrantCreatesReadACLsForTopicsAndGroups(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-512", "admin", "admin-pw"), kfake.User("SCRAM-SHA-512", "consumer", "consumer-pw"),
		kfake.SeedTopics(1, "orders", "payments"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	login := func(name, user, pass string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(`{"username":"`+user+`","password":"`+pass+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := func(secret string) []string {
		return []string{"--bootstrap-server", strings.Join(c.ListenAddrs(), ","), "--timeout", "10s",
			"--security.protocol", "SASL_PLAINTEXT", "--sasl.mechanism", "SCRAM-SHA-512", "--sasl.secret.file", secret,
			"--principal", "User:consumer", "--topic", "orders,payments", "--group", "kafki-trigger-recorder-orders"}
	}
	if err := run(append([]string{"grant"}, args(login("consumer.json", "consumer", "consumer-pw"))...)); err == nil {
		t.Fatal("the consumer granted itself ACLs")
	}
	if err := run(append([]string{"grant"}, args(login("admin.json", "admin", "admin-pw"))...)); err != nil {
		t.Fatal(err)
	}
	// Idempotent: the boot script runs it at every boot.
	if err := run(append([]string{"grant"}, args(login("admin.json", "admin", "admin-pw"))...)); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(scram.Auth{User: "admin", Pass: "admin-pw"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := kadm.NewClient(cl).DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().AllowHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		for _, d := range r.Described {
			got[d.Principal+" "+d.Operation.String()+" "+d.Type.String()+" "+d.Name+" "+d.Host] = true
		}
	}
	want := []string{
		"User:consumer READ TOPIC orders *", "User:consumer READ TOPIC payments *",
		"User:consumer READ GROUP kafki-trigger-recorder-orders *",
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing ACL %q (have %v)", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d ACLs, want %d: %v", len(got), len(want), got)
	}
}

func TestGrantRefusesBadArguments(t *testing.T) {
	for _, a := range [][]string{
		{"--principal", "consumer", "--topic", "t", "--group", "g"},
		{"--principal", "User:c", "--group", "g"},
		{"--principal", "User:c", "--topic", "t"},
	} {
		if err := runGrant(a); err == nil {
			t.Errorf("%v: accepted", a)
		}
	}
}
