package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

// The SASL settings take Kafka's names and units (ms), from flags or the
// environment, and a bad value fails naming the setting.
func TestSASLSettings(t *testing.T) {
	c, err := Load([]string{"--sasl.enabled.mechanisms=SCRAM-SHA-512, PLAIN", "--connections.max.reauth.ms=1500"},
		env(map[string]string{"KAFKI_SASL_SERVER_MAX_RECEIVE_SIZE": "4096"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.SASLEnabledMechanisms, ",") != "SCRAM-SHA-512,PLAIN" || c.ConnectionsMaxReauth != 1500*time.Millisecond || c.SASLMaxReceiveSize != 4096 {
		t.Fatalf("got %+v", c.SASLConfig)
	}
	d := Default()
	if d.SASLMaxReceiveSize != 524288 || d.ConnectionsMaxReauth != 0 || d.FailedAuthDelay != 100*time.Millisecond {
		t.Fatalf("defaults %+v", d.SASLConfig)
	}
	for _, bad := range []struct{ arg, want string }{
		{"--sasl.enabled.mechanisms=GSSAPI", "sasl.enabled.mechanisms"},
		{"--sasl.enabled.mechanisms=", "sasl.enabled.mechanisms"},
		{"--connections.max.reauth.ms=-1", "connections.max.reauth.ms"},
		{"--connections.max.reauth.ms=1s", "connections.max.reauth.ms"},
		{"--sasl.server.max.receive.size=10", "sasl.server.max.receive.size"},
		{"--sasl.mechanism.inter.broker.protocol=OAUTHBEARER", "sasl.mechanism.inter.broker.protocol"},
		{"--connection.failed.authentication.delay.ms=60000", "connection.failed.authentication.delay.ms"},
	} {
		_, err := Load([]string{bad.arg}, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", bad.arg, err)
		}
	}
}
