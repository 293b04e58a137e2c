package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/lambdas/triggers"
)

// grantUsage is "kafki-triggers grant --help"'s first line.
const grantUsage = `kafki-triggers grant --principal User:NAME --topic T[,T2] --group G[,G2] [connection flags]

Creates the Kafka ACLs a trigger's consumer needs (ALLOW READ on each topic
and each consumer group, from any host) through CreateAcls, logged in as a
user allowed to alter ACLs (a super user). Existing ACLs are left as they
are, so it can run at every boot.`

// runGrant creates the consumers' ACLs (the CDK stack's boot script runs
// it once the cluster is up).
func runGrant(args []string) error {
	fs := flag.NewFlagSet("kafki-triggers grant", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), grantUsage); fs.PrintDefaults() }
	bootstrap := fs.String("bootstrap-server", envOr("KAFKI_BOOTSTRAP_SERVER", "localhost:9092"), "Kafka bootstrap servers, comma-separated")
	principal := fs.String("principal", "", "the consumers' principal, User:NAME")
	topics := fs.String("topic", "", "topics to allow READ on, comma-separated")
	groups := fs.String("group", "", "consumer groups to allow READ on, comma-separated")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the cluster")
	sec := securityFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := grantACLs(*principal, split(*topics), split(*groups))
	if err != nil {
		return err
	}
	opts, err := sec.ClientOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(split(*bootstrap)...), kgo.ClientID("kafki-triggers-grant")}, opts...)...)
	if err != nil {
		return fmt.Errorf("grant: kafka client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	results, err := kadm.NewClient(cl).CreateACLs(ctx, b)
	if err != nil {
		return fmt.Errorf("grant: create ACLs: %w", err)
	}
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("grant %s %s on %s %s: %w", r.Principal, r.Operation, r.Type, r.Name, r.Err))
			continue
		}
		fmt.Fprintf(os.Stdout, "allowed %s %s on %s %s\n", r.Principal, r.Operation, r.Type, r.Name)
	}
	return errors.Join(errs...)
}

// grantACLs is the ACL set: READ on the topics and the groups for
// principal (which must be User:NAME), literal names, any host.
func grantACLs(principal string, topics, groups []string) (*kadm.ACLBuilder, error) {
	if typ, name, ok := strings.Cut(principal, ":"); !ok || typ != "User" || name == "" {
		return nil, fmt.Errorf("grant: --principal %q: want User:NAME", principal)
	}
	if len(topics) == 0 || len(groups) == 0 {
		return nil, errors.New("grant: --topic and --group are required")
	}
	b := kadm.NewACLs().Topics(topics...).Groups(groups...).Allow(principal).AllowHosts("*").
		Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	if err := b.ValidateCreate(); err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	return b, nil
}

// securityFlags registers the connection's security settings on fs
// (Kafka client names; KAFKI_* environment defaults).
func securityFlags(fs *flag.FlagSet) *triggers.Security {
	var sec triggers.Security
	fs.StringVar(&sec.Protocol, "security.protocol", os.Getenv("KAFKI_SECURITY_PROTOCOL"), "PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL (env KAFKI_SECURITY_PROTOCOL)")
	fs.StringVar(&sec.Mechanism, "sasl.mechanism", os.Getenv("KAFKI_SASL_MECHANISM"), "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (env KAFKI_SASL_MECHANISM)")
	fs.StringVar(&sec.SecretFile, "sasl.secret.file", os.Getenv("KAFKI_SASL_SECRET_FILE"), `JSON file {"username": ..., "password": ...} (the Secrets Manager layout) to log in as (env KAFKI_SASL_SECRET_FILE)`)
	fs.StringVar(&sec.CAFile, "ssl.truststore.location", os.Getenv("KAFKI_SSL_TRUSTSTORE_LOCATION"), "PEM CA bundle the brokers' certificates chain to (env KAFKI_SSL_TRUSTSTORE_LOCATION; default: the system's)")
	return &sec
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
