package config

// SASL settings (issue 12), under Kafka's names so that a Kafka
// server.properties line works as a flag. They apply to the listeners
// whose security protocol is SASL_PLAINTEXT or SASL_SSL.

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

// SASLConfig is the SASL part of Config.
type SASLConfig struct {
	// SASLEnabledMechanisms is sasl.enabled.mechanisms. Kafka's default
	// is GSSAPI, which Kafki does not have; Kafki's enables the three it
	// has, because AWS Lambda's self-managed Kafka event source logs in
	// with PLAIN (BASIC_AUTH) or SCRAM-SHA-256/512 and clients pick among
	// them. Drop PLAIN on SASL_PLAINTEXT listeners: it sends the password
	// as it is.
	SASLEnabledMechanisms []string
	// ConnectionsMaxReauth is connections.max.reauth.ms: the lifetime of
	// an authenticated session (KIP-368); 0, Kafka's default, never ends
	// one.
	ConnectionsMaxReauth time.Duration
	// SASLMaxReceiveSize is sasl.server.max.receive.size: the largest
	// frame before authentication completes (Kafka's default 524288).
	SASLMaxReceiveSize int32
	// FailedAuthDelay is connection.failed.authentication.delay.ms: how
	// long an address's next attempt waits after a failed authentication,
	// doubling with each further failure up to 5s (Kafka's default 100).
	FailedAuthDelay time.Duration
	// SASLPlainUsersFile is sasl.plain.users.file: a JSON object of user
	// name to password that PLAIN accepts besides the SCRAM users. For
	// development: it holds plaintext passwords.
	SASLPlainUsersFile string
	// SASLInterBrokerSecretFile is sasl.inter.broker.secret.file: the
	// broker's own user as an AWS Secrets Manager secret's JSON,
	// {"username": ..., "password": ...}, in a file ECS or EC2 put there.
	// Every broker accepts this user (with its password, by every enabled
	// mechanism) without it being in the metadata store, and logs in as
	// it to its peers on a SASL inter-broker listener.
	SASLInterBrokerSecretFile string
	// SASLInterBrokerMechanism is sasl.mechanism.inter.broker.protocol:
	// the mechanism brokers log in to each other with.
	SASLInterBrokerMechanism string
}

func (c *Config) bindSASL(fs *flag.FlagSet) {
	fs.Var(listValue{&c.SASLEnabledMechanisms}, "sasl.enabled.mechanisms", "SASL mechanisms SASL listeners offer, comma-separated: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
	fs.Var(msValue{&c.ConnectionsMaxReauth}, "connections.max.reauth.ms", "lifetime in ms of an authenticated SASL session, after which the client must re-authenticate (KIP-368); 0 never")
	fs.Var(intValue[int32]{&c.SASLMaxReceiveSize}, "sasl.server.max.receive.size", "largest frame in bytes a SASL connection may send before it is authenticated")
	fs.Var(msValue{&c.FailedAuthDelay}, "connection.failed.authentication.delay.ms", "ms an address's next SASL attempt waits after a failed one, doubling per further failure up to 5s")
	fs.StringVar(&c.SASLPlainUsersFile, "sasl.plain.users.file", c.SASLPlainUsersFile, "development: JSON file {\"user\": \"password\"} of PLAIN users besides the SCRAM users")
	fs.StringVar(&c.SASLInterBrokerSecretFile, "sasl.inter.broker.secret.file", c.SASLInterBrokerSecretFile, "JSON file {\"username\": ..., \"password\": ...} (AWS Secrets Manager layout) of the brokers' own SASL user")
	fs.StringVar(&c.SASLInterBrokerMechanism, "sasl.mechanism.inter.broker.protocol", c.SASLInterBrokerMechanism, "SASL mechanism brokers log in to each other with")
}

func defaultSASL() SASLConfig {
	return SASLConfig{
		SASLEnabledMechanisms:    []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
		SASLMaxReceiveSize:       524288,
		FailedAuthDelay:          100 * time.Millisecond,
		SASLInterBrokerMechanism: "SCRAM-SHA-512",
	}
}

func (c *Config) validateSASL() error {
	if len(c.SASLEnabledMechanisms) == 0 {
		return errors.New("sasl.enabled.mechanisms: must name at least one mechanism")
	}
	for _, m := range c.SASLEnabledMechanisms {
		switch m {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			return fmt.Errorf("sasl.enabled.mechanisms: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", m)
		}
	}
	switch c.SASLInterBrokerMechanism {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("sasl.mechanism.inter.broker.protocol %q: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLInterBrokerMechanism)
	}
	switch {
	case c.ConnectionsMaxReauth < 0:
		return fmt.Errorf("connections.max.reauth.ms %d: must be >= 0", c.ConnectionsMaxReauth.Milliseconds())
	case c.SASLMaxReceiveSize < 1024:
		return fmt.Errorf("sasl.server.max.receive.size %d: must be >= 1024", c.SASLMaxReceiveSize)
	case c.FailedAuthDelay < 0 || c.FailedAuthDelay > 5*time.Second:
		return fmt.Errorf("connection.failed.authentication.delay.ms %d: must be between 0 and 5000", c.FailedAuthDelay.Milliseconds())
	}
	return nil
}

// listValue is a comma-separated list flag.
type listValue struct{ p *[]string }

func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v listValue) Set(s string) error {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	*v.p = out
	return nil
}

// msValue is a duration flag in whole milliseconds, for Kafka's *.ms
// names.
type msValue struct{ p *time.Duration }

func (v msValue) String() string {
	if v.p == nil {
		return "0"
	}
	return fmt.Sprint(v.p.Milliseconds())
}

func (v msValue) Set(s string) error {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || fmt.Sprint(n) != strings.TrimSpace(s) {
		return fmt.Errorf("not a whole number of milliseconds")
	}
	*v.p = time.Duration(n) * time.Millisecond
	return nil
}
