package stack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// userData is a broker's launch template as JSON text (CloudFormation's
// Fn::Join pieces, newlines as \n).
func userData(t *testing.T, s synthed, node int) string {
	t.Helper()
	for _, lt := range resources(s, "AWS::EC2::LaunchTemplate") {
		b, _ := json.Marshal(lt)
		if strings.Contains(string(b), fmt.Sprintf(`KAFKI_NODE_ID=%d\n`, node)) {
			return string(b)
		}
	}
	t.Fatalf("no launch template for broker %d", node)
	return ""
}

func TestSecureBrokersServeSASLSSLListenersWithACLs(t *testing.T) {
	p, _ := synth(t)
	ud := userData(t, p, 2)
	for _, want := range []string{
		`KAFKI_LISTENERS=CLIENT://0.0.0.0:9093,REPLICATION://0.0.0.0:9094,LOCAL://127.0.0.1:9092\n`,
		`KAFKI_ADVERTISED_LISTENERS=CLIENT://broker-2.kafki.internal:9093,REPLICATION://broker-2.kafki.internal:9094,LOCAL://127.0.0.1:9092\n`,
		`KAFKI_LISTENER_SECURITY_PROTOCOL_MAP=CLIENT:SASL_SSL,REPLICATION:SASL_SSL,LOCAL:SASL_PLAINTEXT\n`,
		`KAFKI_INTER_BROKER_LISTENER_NAME=REPLICATION\n`,
		`KAFKI_TLS_CERT=/etc/kafki/tls/broker.pem\n`, `KAFKI_TLS_KEY=/etc/kafki/tls/broker.key\n`, `KAFKI_TLS_CA=/etc/kafki/tls/ca.pem\n`,
		`KAFKI_SASL_ENABLED_MECHANISMS=SCRAM-SHA-512,SCRAM-SHA-256\n`,
		`KAFKI_SASL_INTER_BROKER_SECRET_FILE=/etc/kafki/interbroker.json\n`,
		`KAFKI_SASL_MECHANISM_INTER_BROKER_PROTOCOL=SCRAM-SHA-512\n`,
		`KAFKI_AUTHORIZER_CLASS_NAME=acl\n`,
		`KAFKI_SUPER_USERS=User:kafki-broker\n`,
		// kafki-triggers on the brokers logs in like the Lambda service.
		`KAFKI_BOOTSTRAP_SERVER=bootstrap.kafki.internal:9093\n`,
		`KAFKI_SECURITY_PROTOCOL=SASL_SSL\nKAFKI_SASL_MECHANISM=SCRAM-SHA-512\nKAFKI_SASL_SECRET_FILE=/etc/kafki/consumer.json\nKAFKI_SSL_TRUSTSTORE_LOCATION=/etc/kafki/consumer-ca.pem\n`,
		// the consumers' user and its ACLs, on the loopback listener as the brokers' user
		`kafki users create --bootstrap-server 127.0.0.1:9092 --sasl-mechanism SCRAM-SHA-512 --sasl-secret-file /etc/kafki/interbroker.json`,
		`--user kafki-consumer --password-file \"$PWFILE\" --mechanism SCRAM-SHA-512`,
		`kafki-triggers grant --bootstrap-server 127.0.0.1:9092 --security.protocol SASL_PLAINTEXT`,
		`--principal User:kafki-consumer --topic orders --group kafki-trigger-recorder-orders`,
	} {
		if !strings.Contains(ud, want) {
			t.Errorf("broker user data lacks %s", want)
		}
	}
	for _, not := range []string{"KAFKI_LISTEN=", "KAFKI_ADVERTISED_LISTENER=", "set -x", "echo \\\"$v"} {
		if strings.Contains(ud, not) {
			t.Errorf("broker user data has %q", not)
		}
	}
	// Every secret is in a 0600 file of its service user before brokerd starts.
	start := strings.Index(ud, "systemctl enable --now kafki.service")
	for _, f := range []struct{ file, owner string }{
		{BrokerCertFile, "kafki"}, {BrokerKeyFile, "kafki"}, {CAFile, "kafki"}, {InterBrokerFile, "kafki"}, {ConsumerFile, "kafki-triggers"}, {ConsumerCAFile, "kafki-triggers"},
	} {
		i := strings.Index(ud, " "+f.file+" "+f.owner+`\n`)
		if i < 0 || i > start {
			t.Errorf("%s is not fetched for %s before brokerd starts", f.file, f.owner)
		}
	}
	if !strings.Contains(ud, `install -m 0600 -o \"$4\" -g \"$4\" /dev/null \"$3\"`) {
		t.Error("secret files are not created 0600 for their owner before they are written")
	}
	if strings.Index(ud, "systemd-run --unit kafki-users-init") < start {
		t.Error("the consumers' user is created before brokerd starts")
	}

	// Plaintext: the one listener of before, no secrets fetched.
	pud := userData(t, plainSynth(t), 2)
	for _, want := range []string{`KAFKI_LISTEN=0.0.0.0:9092\n`, `KAFKI_ADVERTISED_LISTENER=broker-2.kafki.internal:9092\n`} {
		if !strings.Contains(pud, want) {
			t.Errorf("plaintext user data lacks %s", want)
		}
	}
	for _, not := range []string{"KAFKI_LISTENERS=", "secretsmanager get-secret-value", "KAFKI_AUTHORIZER_CLASS_NAME", "KAFKI_SECURITY_PROTOCOL"} {
		if strings.Contains(pud, not) {
			t.Errorf("plaintext user data has %s", not)
		}
	}
}

func TestCertificatesCustomResourceAndSecrets(t *testing.T) {
	p, e := synth(t)
	crs := resources(p, "Custom::KafkiBrokerCerts")
	if len(crs) != 1 {
		t.Fatalf("%d broker-certs resources, want 1", len(crs))
	}
	for _, cr := range crs {
		if cr["Prefix"] != "KafkiTest/tls" {
			t.Errorf("prefix %v", cr["Prefix"])
		}
		var names []string
		for _, n := range anyList(cr["Names"]) {
			names = append(names, n.(string))
		}
		want := []string{"broker-1.kafki.internal", "broker-2.kafki.internal", "broker-3.kafki.internal", "bootstrap.kafki.internal"}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("SANs %v, want %v", names, want)
		}
		tok, _ := json.Marshal(cr["ServiceToken"])
		if !strings.Contains(string(tok), "CertsFunction") {
			t.Errorf("service token %s is not the broker-certs function", tok)
		}
	}
	var fn map[string]any
	for id, f := range resources(p, "AWS::Lambda::Function") {
		if strings.Contains(id, "CertsFunction") {
			fn = f
		}
	}
	if fn == nil || fn["Runtime"] != "provided.al2023" || fn["Handler"] != "bootstrap" {
		t.Errorf("broker-certs function %v: want provided.al2023", fn)
	}
	users := map[string]bool{}
	for _, sec := range resources(p, "AWS::SecretsManager::Secret") {
		g, _ := sec["GenerateSecretString"].(map[string]any)
		users[fmt.Sprint(g["SecretStringTemplate"])] = g["GenerateStringKey"] == "password"
	}
	for _, u := range []string{`{"username":"kafki-broker"}`, `{"username":"kafki-consumer"}`} {
		if !users[u] {
			t.Errorf("no generated secret %s with a password (have %v)", u, users)
		}
	}
	outs, _ := p.json["Outputs"].(map[string]any)
	for _, o := range []string{"RootCASecret", "ConsumerSecret", "InterBrokerSecret"} {
		if outs[o] == nil {
			t.Errorf("no output %s", o)
		}
	}
	// The emulator is plaintext: no certificates.
	if len(resources(e, "Custom::KafkiBrokerCerts")) != 0 {
		t.Error("emulator mode creates certificates")
	}
	if len(resources(plainSynth(t), "Custom::KafkiBrokerCerts")) != 0 {
		t.Error("-c security=plaintext creates certificates")
	}
}

// secretGrants maps each role (logical id prefix of its policy's role) to
// the secrets its policies let it read or write, as template JSON.
func secretGrants(s synthed) map[string][]string {
	out := map[string][]string{}
	for _, pol := range resources(s, "AWS::IAM::Policy") {
		var roles []string
		for _, r := range anyList(pol["Roles"]) {
			roles = append(roles, fmt.Sprint(r.(map[string]any)["Ref"]))
		}
		doc := pol["PolicyDocument"].(map[string]any)
		for _, st := range anyList(doc["Statement"]) {
			m := st.(map[string]any)
			if !strings.Contains(fmt.Sprint(m["Action"]), "secretsmanager:") {
				continue
			}
			res := m["Resource"]
			if _, ok := res.([]any); !ok {
				res = []any{res}
			}
			for _, r := range res.([]any) {
				b, _ := json.Marshal(r)
				for _, role := range roles {
					out[role] = append(out[role], string(b))
				}
			}
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

func roleGrants(t *testing.T, g map[string][]string, prefix string) []string {
	t.Helper()
	var out []string
	n := 0
	for role, res := range g {
		if strings.HasPrefix(role, prefix) {
			out, n = append(out, res...), n+1
		}
	}
	if n != 1 {
		t.Fatalf("%d roles named %s* with secret grants, want 1 (%v)", n, prefix, g)
	}
	return out
}

func has(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestSecretsAreReadableOnlyByWhoNeedsThem(t *testing.T) {
	for _, s := range []synthed{mustProd(t), esmSynth(t)} {
		g := secretGrants(s)
		for role, res := range g {
			for _, r := range res {
				if r == `"*"` {
					t.Errorf("%s: secretsmanager on *", role)
				}
				// The CA's key: only the custom resource may touch it.
				if strings.Contains(r, "CASecretArn") && !strings.Contains(r, "RootCASecretArn") {
					t.Errorf("%s may read the CA's key", role)
				}
			}
		}
		broker := roleGrants(t, g, "brokersRole")
		if len(broker) != 4 || !has(broker, "InterBrokerCredentials") || !has(broker, "ConsumerCredentials") ||
			!has(broker, "BrokerSecretArn") || !has(broker, "RootCASecretArn") {
			t.Errorf("broker role reads %v, want exactly its TLS material, the root CA and the two logins", broker)
		}
		certs := roleGrants(t, g, "brokerssecurityCertsRole")
		if len(certs) != 1 || !strings.Contains(certs[0], ":secret:"+*s.stack.StackName()+"/tls*\"") {
			t.Errorf("broker-certs role on %v, want secret:<stack>/tls* only", certs)
		}
	}
	// kafki-triggers' role (runner) and the function of an event source
	// mapping (esm): the consumers' login and the root CA, explicitly.
	for _, c := range []struct {
		s    synthed
		role string
	}{{mustProd(t), "consumersRunnerRole"}, {esmSynth(t), "consumersrecorderrole"}} {
		res := roleGrants(t, secretGrants(c.s), c.role)
		if !has(res, "ConsumerCredentials") || !has(res, "RootCASecretArn") || has(res, "InterBrokerCredentials") || has(res, "BrokerSecretArn") {
			t.Errorf("%s reads %v, want the consumers' login and the root CA only", c.role, res)
		}
	}
}

// The runner's trigger definitions name the same secrets as the ESM
// alternative's source access configurations.
func TestRunnerDefinitionsNameTheirSourceAccess(t *testing.T) {
	ud := userData(t, mustProd(t), 1)
	i := strings.Index(ud, "source_access_configurations")
	if i < 0 {
		t.Fatal("triggers.json has no source access configurations")
	}
	rest := ud[i:]
	scram, ca := strings.Index(rest, `SASL_SCRAM_512_AUTH`), strings.Index(rest, `SERVER_ROOT_CA_CERTIFICATE`)
	if scram < 0 || ca < 0 {
		t.Fatalf("source access types missing: %.400s", rest)
	}
	if !strings.Contains(rest[scram:ca], "ConsumerCredentials") || !strings.Contains(rest[ca:], "RootCASecretArn") {
		t.Errorf("source access URIs are not the consumers' login and the root CA: %.600s", rest)
	}
	if strings.Contains(userData(t, plainSynth(t), 1), "source_access_configurations") {
		t.Error("plaintext definitions name source access configurations")
	}
}

func mustProd(t *testing.T) synthed { p, _ := synth(t); return p }

func TestEventSourceMappingLogsInWithSCRAMAndTheRootCA(t *testing.T) {
	maps := resources(esmSynth(t), "AWS::Lambda::EventSourceMapping")
	if len(maps) != 1 {
		t.Fatalf("%d event source mappings, want 1", len(maps))
	}
	for id, m := range maps {
		got := map[string]string{}
		for _, c := range anyList(m["SourceAccessConfigurations"]) {
			cm := c.(map[string]any)
			b, _ := json.Marshal(cm["URI"])
			got[fmt.Sprint(cm["Type"])] = string(b)
		}
		if !strings.Contains(got["SASL_SCRAM_512_AUTH"], "ConsumerCredentials") {
			t.Errorf("%s: SASL_SCRAM_512_AUTH is %q, want the consumers' secret", id, got["SASL_SCRAM_512_AUTH"])
		}
		if !strings.Contains(got["SERVER_ROOT_CA_CERTIFICATE"], "RootCASecretArn") {
			t.Errorf("%s: SERVER_ROOT_CA_CERTIFICATE is %q, want the root-CA secret", id, got["SERVER_ROOT_CA_CERTIFICATE"])
		}
		b, _ := json.Marshal(m["SelfManagedEventSource"])
		if !strings.Contains(string(b), "broker-1.kafki.internal:9093") || strings.Contains(string(b), ":9092") {
			t.Errorf("%s: bootstrap servers %s, want the SASL_SSL listener", id, b)
		}
	}
}

func TestEmulatorIsAlwaysPlaintext(t *testing.T) {
	c, err := FromContext("/", func(k string) any {
		return map[string]any{"emulator": "true", "security": "sasl_ssl"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Security != SecurityPlaintext || c.Secure() || c.ClientListenerPort() != ClientPort {
		t.Errorf("emulator with -c security=sasl_ssl: %s, secure %v, port %d", c.Security, c.Secure(), c.ClientListenerPort())
	}
	d, _ := FromContext("/", func(string) any { return nil })
	if d.Security != SecuritySASLSSL || d.ClientListenerPort() != SecurePort {
		t.Errorf("default security %s port %d, want sasl_ssl on %d", d.Security, d.ClientListenerPort(), SecurePort)
	}
}
