package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestListenersShorthandIsOnePlaintextListener(t *testing.T) {
	c := Default()
	ls, err := c.ListenerList()
	if err != nil {
		t.Fatal(err)
	}
	want := []Listener{{Name: "PLAINTEXT", Protocol: "PLAINTEXT", Bind: "127.0.0.1:9092"}}
	if !reflect.DeepEqual(ls, want) {
		t.Fatalf("got %+v, want %+v", ls, want)
	}
	if k, _ := c.KafkaConfig("listeners"); k.Value != "PLAINTEXT://127.0.0.1:9092" {
		t.Fatalf("listeners renders %q", k.Value)
	}
}

func TestListenersAsInKafka(t *testing.T) {
	var out bytes.Buffer
	c, err := Load([]string{
		"--listeners=PLAINTEXT://127.0.0.1:9092,client://0.0.0.0:9094,REPLICATION://:9093,SSL://127.0.0.1:0",
		"--advertised.listeners=CLIENT://kafka.example.com:9094,REPLICATION://10.0.0.7:9093",
		"--listener.security.protocol.map=CLIENT:SASL_SSL,REPLICATION:SSL",
		"--inter.broker.listener.name=replication",
		"--tls.cert=/c.pem", "--tls.ca=/ca.pem", "--ssl.client.auth=required",
	}, env(nil), &out)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := c.ListenerList()
	if err != nil {
		t.Fatal(err)
	}
	want := []Listener{
		{Name: "PLAINTEXT", Protocol: "PLAINTEXT", Bind: "127.0.0.1:9092"},
		{Name: "CLIENT", Protocol: "SASL_SSL", Bind: "0.0.0.0:9094", Advertised: "kafka.example.com:9094"},
		{Name: "REPLICATION", Protocol: "SSL", Bind: ":9093", Advertised: "10.0.0.7:9093"},
		{Name: "SSL", Protocol: "SSL", Bind: "127.0.0.1:0"},
	}
	if !reflect.DeepEqual(ls, want) {
		t.Fatalf("got %+v\nwant %+v", ls, want)
	}
	ib, err := c.InterBrokerListener()
	if err != nil || ib.Name != "REPLICATION" {
		t.Fatalf("inter-broker listener %+v %v", ib, err)
	}
	if k, _ := c.KafkaConfig("listener.security.protocol.map"); k.Value != "PLAINTEXT:PLAINTEXT,CLIENT:SASL_SSL,REPLICATION:SSL,SSL:SSL" {
		t.Fatalf("listener.security.protocol.map renders %q", k.Value)
	}
}

func TestListenerSettingsRefusedInOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listeners=127.0.0.1:9092"}, "listeners"},
		{[]string{"--listeners=PLAINTEXT://127.0.0.1"}, "listeners"},
		{[]string{"--listeners=PLAINTEXT://127.0.0.1:70000"}, "port"},
		{[]string{"--listeners=PLAINTEXT://:9092,plaintext://:9093"}, "twice"},
		{[]string{"--listeners=PLAINTEXT://:9092,SSL://:9092", "--tls.cert=/c"}, "both bind"},
		{[]string{"--listeners=CLIENT://:9092"}, "no security protocol"},
		{[]string{"--listeners=CLIENT://:9092", "--listener.security.protocol.map=CLIENT:TLS"}, "protocol must be"},
		{[]string{"--listeners=PLAINTEXT://:9092", "--advertised.listeners=SSL://h:9093"}, "not a listener"},
		{[]string{"--listeners=PLAINTEXT://:9092", "--advertised.listeners=PLAINTEXT://0.0.0.0:9092"}, "needs a host"},
		{[]string{"--advertised.listeners=PLAINTEXT://h:9092"}, "needs listeners"},
		{[]string{"--listeners=PLAINTEXT://:9092", "--listen=127.0.0.1:9000"}, "set one"},
		{[]string{"--listeners=PLAINTEXT://:9092", "--advertised.listener=h:1"}, "advertised.listeners"},
		{[]string{"--listeners=SSL://:9093,SASL_SSL://:9094"}, "inter.broker.listener.name"},
		{[]string{"--listeners=PLAINTEXT://:9092", "--inter.broker.listener.name=REPL"}, "inter.broker.listener.name"},
		{[]string{"--listeners=SSL://:9093"}, "ssl.keystore.location or tls.cert"},
		{[]string{"--listeners=SSL://:9093", "--tls.cert=/c", "--ssl.client.auth=required"}, "truststore"},
		{[]string{"--ssl.client.auth=always"}, "ssl.client.auth"},
		{[]string{"--ssl.keystore.type=JKS"}, "ssl.keystore.type"},
		{[]string{"--ssl.truststore.type=PKCS12"}, "ssl.truststore.type"},
		{[]string{"--ssl.key.password=x"}, "ssl.key.password"},
		{[]string{"--ssl.keystore.location=/k", "--tls.cert=/c"}, "set one"},
		{[]string{"--tls.key=/k"}, "tls.key"},
		{[]string{"--ssl.principal.mapping.rules=RULE:x"}, "ssl.principal.mapping.rules"},
	} {
		var out bytes.Buffer
		_, err := Load(tc.args, env(nil), &out)
		if err == nil {
			t.Errorf("%v: accepted", tc.args)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %q, want one line naming %q", tc.args, err, tc.want)
		}
	}
}
