package stack

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Storage is where a broker keeps its hot log.
const (
	// StorageGP3 is an EBS gp3 volume per broker, created with the
	// instance and deleted with it (a replacement refills from the leaders
	// and the tier, which the broker supports from an empty disk).
	StorageGP3 = "gp3"
	// StorageInstance is the instance's own NVMe store (i4i, m6id, ...):
	// cheaper per GB and faster, lost when the instance goes.
	StorageInstance = "instance"
)

// Trigger placements: how records reach the Lambda functions.
const (
	// TriggersRunner runs kafki-triggers on every broker instance as a
	// member of each trigger's consumer group (the default).
	TriggersRunner = "runner"
	// TriggersESM uses AWS's own self-managed Kafka event source mapping.
	TriggersESM = "esm"
)

// Security modes (-c security=...).
const (
	// SecuritySASLSSL (the default): clients on SASL_SSL (SCRAM) port
	// SecurePort, brokers to each other on SASL_SSL port InterBrokerPort,
	// on-host tools on SASL_PLAINTEXT 127.0.0.1:ClientPort, ACLs on.
	SecuritySASLSSL = "sasl_ssl"
	// SecurityPlaintext: one PLAINTEXT listener on ClientPort for clients
	// and replication, no authentication (emulator mode always).
	SecurityPlaintext = "plaintext"
)

// Ports of the broker's listeners and its metrics endpoint.
const (
	// ClientPort is the PLAINTEXT listener of -c security=plaintext
	// (clients and replica fetchers); with sasl_ssl it is the loopback
	// SASL_PLAINTEXT listener for tools on the broker's own host.
	ClientPort = 9092
	// SecurePort is the SASL_SSL client listener (-c security=sasl_ssl).
	SecurePort = 9093
	// InterBrokerPort is the SASL_SSL inter-broker listener, open only to
	// the brokers' security group.
	InterBrokerPort = 9094
	// MetricsPort is the Prometheus endpoint, bound to loopback: only the
	// CloudWatch agent on the same host reads it.
	MetricsPort = 9644
)

// Config is the stack's parameters. FromContext fills it from `cdk -c`
// values over Defaults; Validate says in one line what is wrong.
type Config struct {
	// Root is the repository root; relative paths below are resolved
	// against it.
	Root string

	StackName string
	// Emulator keeps only what an emulator such as MiniStack creates and
	// runs (table, bucket, roles, functions, secret, dashboard): no EC2,
	// no VPC, no NAT, no hosted zone.
	Emulator bool

	Brokers       int
	InstanceType  string
	Storage       string // StorageGP3 or StorageInstance
	DiskGiB       int    // gp3 size (ignored for instance store)
	RetentionDays int    // log.retention of the brokers
	// ShutdownTimeout is the broker's --shutdown.timeout; systemd waits
	// ShutdownTimeout + StopMargin before it sends SIGKILL.
	ShutdownTimeout time.Duration

	VpcID       string // existing VPC; empty creates one over three AZs
	VpcCidr     string
	NatGateways int
	ClientCidr  string // extra CIDR allowed to the client listener (empty: only the clients security group)
	ZoneName    string // private hosted zone of the brokers' names

	// TableDeletionProtection and Retain: whether `cdk destroy` may drop
	// the metadata table and the tier bucket.
	TableDeletionProtection bool
	Retain                  bool

	SchemaPath   string // brokerd/metastore/schema.json
	BrokerdDir   string // directory holding the linux/amd64 brokerd and kafki binaries
	LambdaAssets string // directory holding <function>/bootstrap
	Functions    []string
	// TriggerRunner is the linux/amd64 kafki-triggers binary; when it is
	// absent the runner is not installed (a warning says so).
	TriggerRunner string
	TriggersVia   string
	Triggers      []Trigger

	AlarmEmail string

	// Security is SecuritySASLSSL or SecurityPlaintext; emulator mode is
	// always plaintext (its brokers are host processes on loopback).
	Security string
	// CertGeneration re-issues the broker certificate from the same CA
	// when raised; CAGeneration makes a new CA (and certificate) under a
	// new secret prefix when raised (infra/README.md, Rotation).
	CertGeneration int
	CAGeneration   int
}

// TLSPrefix is the name prefix of the certificates' secrets.
func (c Config) TLSPrefix() string {
	if c.CAGeneration > 1 {
		return fmt.Sprintf("%s/tls-%d", c.StackName, c.CAGeneration)
	}
	return c.StackName + "/tls"
}

// Secure reports whether the brokers serve SASL_SSL with ACLs.
func (c Config) Secure() bool { return c.Security == SecuritySASLSSL && !c.Emulator }

// ClientListenerPort is the port clients are told: SecurePort when
// secure, else ClientPort.
func (c Config) ClientListenerPort() int {
	if c.Secure() {
		return SecurePort
	}
	return ClientPort
}

// Trigger is one consumer group that feeds a topic to a function.
type Trigger struct {
	Topic    string `json:"topic"`
	Function string `json:"function"`
	Group    string `json:"group"`
}

// StopMargin is added to the broker's shutdown timeout for systemd's
// TimeoutStopSec: controlled shutdown hands leaderships over (a metadata
// write and one poll interval per partition batch) before in-flight
// requests get their ShutdownTimeout.
const StopMargin = 60 * time.Second

// Defaults is a three-broker production cluster on gp3.
func Defaults() Config {
	return Config{
		StackName:               "Kafki",
		Brokers:                 3,
		InstanceType:            "m7i.large",
		Storage:                 StorageGP3,
		DiskGiB:                 500,
		RetentionDays:           7,
		ShutdownTimeout:         30 * time.Second,
		VpcCidr:                 "10.42.0.0/16",
		NatGateways:             1,
		ZoneName:                "kafki.internal",
		TableDeletionProtection: true,
		Retain:                  true,
		SchemaPath:              "brokerd/metastore/schema.json",
		BrokerdDir:              "build/brokerd-linux-amd64",
		LambdaAssets:            "build/lambdas",
		Functions:               []string{"dynamodb-sink", "s3-archiver", "recorder"},
		TriggerRunner:           "build/brokerd-linux-amd64/kafki-triggers",
		TriggersVia:             TriggersRunner,
		Security:                SecuritySASLSSL,
		CertGeneration:          1,
		CAGeneration:            1,
	}
}

// ContextKeys are the `-c key=value` names FromContext reads.
var ContextKeys = []string{
	"stackName", "emulator", "brokers", "instanceType", "storage", "diskGiB",
	"retentionDays", "shutdownTimeout", "vpcId", "vpcCidr", "natGateways",
	"clientCidr", "zoneName", "deletionProtection", "retain", "schema",
	"brokerdDir", "lambdaAssets", "functions", "triggerRunner", "triggersVia",
	"triggers", "alarmEmail", "security", "certGeneration", "caGeneration",
}

// FromContext builds a Config from context values (strings as the CLI
// gives them, or JSON values from cdk.json) over Defaults, and validates
// it. get returns nil for an absent key.
func FromContext(root string, get func(key string) any) (Config, error) {
	c := Defaults()
	c.Root = root
	var errs []error
	str := func(key string, dst *string) {
		if v := get(key); v != nil {
			*dst = strings.TrimSpace(fmt.Sprint(v))
		}
	}
	integer := func(key string, dst *int) { parseContext(get, key, dst, strconv.Atoi, "not an integer", &errs) }
	boolean := func(key string, dst *bool) {
		parseContext(get, key, dst, strconv.ParseBool, "not true or false", &errs)
	}
	str("stackName", &c.StackName)
	boolean("emulator", &c.Emulator)
	integer("brokers", &c.Brokers)
	str("instanceType", &c.InstanceType)
	str("storage", &c.Storage)
	integer("diskGiB", &c.DiskGiB)
	integer("retentionDays", &c.RetentionDays)
	parseContext(get, "shutdownTimeout", &c.ShutdownTimeout, time.ParseDuration, "not a duration such as 30s", &errs)
	str("vpcId", &c.VpcID)
	str("vpcCidr", &c.VpcCidr)
	integer("natGateways", &c.NatGateways)
	str("clientCidr", &c.ClientCidr)
	str("zoneName", &c.ZoneName)
	boolean("deletionProtection", &c.TableDeletionProtection)
	boolean("retain", &c.Retain)
	str("schema", &c.SchemaPath)
	str("brokerdDir", &c.BrokerdDir)
	if get("brokerdDir") != nil && get("triggerRunner") == nil {
		c.TriggerRunner = filepath.Join(c.BrokerdDir, "kafki-triggers")
	}
	str("lambdaAssets", &c.LambdaAssets)
	if v := get("functions"); v != nil {
		c.Functions = splitList(fmt.Sprint(v))
	}
	str("triggerRunner", &c.TriggerRunner)
	str("triggersVia", &c.TriggersVia)
	if v := get("triggers"); v != nil {
		ts, err := ParseTriggers(fmt.Sprint(v))
		if err != nil {
			errs = append(errs, err)
		}
		c.Triggers = ts
	}
	str("alarmEmail", &c.AlarmEmail)
	str("security", &c.Security)
	integer("certGeneration", &c.CertGeneration)
	integer("caGeneration", &c.CAGeneration)
	c.Security = strings.ToLower(c.Security)
	if c.Emulator {
		// The emulator's brokers are host processes on loopback that the
		// suite configures itself: no certificates, no SASL.
		c.Security = SecurityPlaintext
	}
	if len(errs) > 0 {
		return c, errs[0]
	}
	return c, c.Validate()
}

// parseContext sets *dst from the context value of key, when present,
// parsed by parse; a value that does not parse adds "-c key=value: want"
// to errs and leaves *dst alone.
func parseContext[T any](get func(string) any, key string, dst *T, parse func(string) (T, error), want string, errs *[]error) {
	v := get(key)
	if v == nil {
		return
	}
	x, err := parse(strings.TrimSpace(fmt.Sprint(v)))
	if err != nil {
		*errs = append(*errs, fmt.Errorf("-c %s=%v: %s", key, v, want))
		return
	}
	*dst = x
}

// ParseTriggers reads "topic=function[@group],..." (the group defaults to
// kafki-trigger-<function>-<topic>).
func ParseTriggers(s string) ([]Trigger, error) {
	var ts []Trigger
	for _, item := range splitList(s) {
		topic, rest, ok := strings.Cut(item, "=")
		fn, group, _ := strings.Cut(rest, "@")
		if !ok || topic == "" || fn == "" {
			return nil, fmt.Errorf("-c triggers=%s: want topic=function[@group],...", s)
		}
		if group == "" {
			group = "kafki-trigger-" + fn + "-" + topic
		}
		ts = append(ts, Trigger{Topic: topic, Function: fn, Group: group})
	}
	return ts, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

var (
	stackNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,100}$`)
	// family letters, generation, attribute letters, size: m7i.large,
	// i4i.2xlarge, m7i-flex.xlarge, c6id.metal.
	instanceRE = regexp.MustCompile(`^([a-z]+)([0-9]+)([a-z-]*)\.([0-9]*[a-z]+)$`)
	vpcRE      = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	cidrRE     = regexp.MustCompile(`^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$`)
	zoneRE     = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$`)
	fnRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,40}$`)
	topicRE    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
)

// Validate checks every parameter and names the first wrong one.
func (c Config) Validate() error {
	switch {
	case !stackNameRE.MatchString(c.StackName):
		return fmt.Errorf("-c stackName=%q: letters, digits and '-', starting with a letter", c.StackName)
	case c.Brokers < 1 || c.Brokers > 30:
		return fmt.Errorf("-c brokers=%d: between 1 and 30", c.Brokers)
	case c.Storage != StorageGP3 && c.Storage != StorageInstance:
		return fmt.Errorf("-c storage=%q: instance or gp3", c.Storage)
	case c.RetentionDays < 1 || c.RetentionDays > 3650:
		return fmt.Errorf("-c retentionDays=%d: between 1 and 3650", c.RetentionDays)
	case c.ShutdownTimeout < time.Second || c.ShutdownTimeout > 10*time.Minute:
		return fmt.Errorf("-c shutdownTimeout=%s: between 1s and 10m", c.ShutdownTimeout)
	case c.VpcID != "" && !vpcRE.MatchString(c.VpcID):
		return fmt.Errorf("-c vpcId=%q: not a VPC id (vpc-0123abcd...)", c.VpcID)
	case !cidrRE.MatchString(c.VpcCidr):
		return fmt.Errorf("-c vpcCidr=%q: not an IPv4 CIDR", c.VpcCidr)
	case c.ClientCidr != "" && !cidrRE.MatchString(c.ClientCidr):
		return fmt.Errorf("-c clientCidr=%q: not an IPv4 CIDR", c.ClientCidr)
	case c.ClientCidr == "0.0.0.0/0":
		return errors.New("-c clientCidr=0.0.0.0/0: a private cluster's listener is not for the whole Internet; name your clients' network")
	case c.Security != SecuritySASLSSL && c.Security != SecurityPlaintext:
		return fmt.Errorf("-c security=%q: sasl_ssl or plaintext", c.Security)
	case c.CertGeneration < 1 || c.CAGeneration < 1:
		return fmt.Errorf("-c certGeneration=%d, caGeneration=%d: 1 or more", c.CertGeneration, c.CAGeneration)
	case c.NatGateways < 1 || c.NatGateways > 3:
		return fmt.Errorf("-c natGateways=%d: between 1 and 3 (instances reach CloudWatch, SSM and EC2 through NAT)", c.NatGateways)
	case !zoneRE.MatchString(c.ZoneName):
		return fmt.Errorf("-c zoneName=%q: not a DNS name such as kafki.internal", c.ZoneName)
	case c.TriggersVia != TriggersRunner && c.TriggersVia != TriggersESM:
		return fmt.Errorf("-c triggersVia=%q: runner or esm", c.TriggersVia)
	case c.AlarmEmail != "" && !strings.Contains(c.AlarmEmail, "@"):
		return fmt.Errorf("-c alarmEmail=%q: not an e-mail address", c.AlarmEmail)
	}
	if err := c.validateInstance(); err != nil {
		return err
	}
	if c.Storage == StorageGP3 && (c.DiskGiB < 20 || c.DiskGiB > 16384) {
		return fmt.Errorf("-c diskGiB=%d: between 20 and 16384", c.DiskGiB)
	}
	seen := map[string]bool{}
	for _, f := range c.Functions {
		if !fnRE.MatchString(f) || seen[f] {
			return fmt.Errorf("-c functions: %q is not a distinct lower-case function name", f)
		}
		seen[f] = true
	}
	for _, t := range c.Triggers {
		if !seen[t.Function] {
			return fmt.Errorf("-c triggers: function %q is not one of -c functions=%s", t.Function, strings.Join(c.Functions, ","))
		}
		if !topicRE.MatchString(t.Topic) {
			return fmt.Errorf("-c triggers: %q is not a Kafka topic name", t.Topic)
		}
	}
	return nil
}

func (c Config) validateInstance() error {
	m := instanceRE.FindStringSubmatch(c.InstanceType)
	if m == nil {
		return fmt.Errorf("-c instanceType=%q: not an EC2 instance type such as m7i.large", c.InstanceType)
	}
	family, attrs := m[1], m[3]
	if strings.Contains(attrs, "g") && family != "g" {
		return fmt.Errorf("-c instanceType=%s: a Graviton (arm64) type; the broker asset is built for linux/amd64", c.InstanceType)
	}
	if c.Storage == StorageInstance && !hasInstanceStore(family, attrs) {
		return fmt.Errorf("-c instanceType=%s: no instance store for -c storage=instance (use i4i, m6id, c6id, r6id... or -c storage=gp3)", c.InstanceType)
	}
	return nil
}

// hasInstanceStore: the storage-optimised families (i, d, im/is) and any
// type whose attributes carry "d" (m6id, c5d, r5dn, x2iedn).
func hasInstanceStore(family, attrs string) bool {
	return family == "i" || family == "d" || strings.Contains(attrs, "d")
}

// Path resolves a configured path against the repository root.
func (c Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Root, p)
}

// ReplicationFactor is the default for topics and __consumer_offsets: 3,
// or the broker count when smaller.
func (c Config) ReplicationFactor() int {
	return min(3, c.Brokers)
}
