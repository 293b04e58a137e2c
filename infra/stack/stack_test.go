package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// root is the repository root (infra/stack is two levels down).
func root(t *testing.T) string {
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// assets writes dummy binaries where the stack expects them: the
// functions' bootstrap files, the trigger runner, brokerd and kafki.
func assets(t *testing.T, dir string) (lambdas, brokerd string) {
	lambdas, brokerd = filepath.Join(dir, "lambdas"), filepath.Join(dir, "brokerd")
	for _, f := range []string{"dynamodb-sink/bootstrap", "s3-archiver/bootstrap", "recorder/bootstrap", "broker-certs/bootstrap"} {
		write(t, filepath.Join(lambdas, f))
	}
	for _, f := range []string{"brokerd", "kafki", "kafki-triggers"} {
		write(t, filepath.Join(brokerd, f))
	}
	return lambdas, brokerd
}

func write(t *testing.T, path string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

type synthed struct {
	tmpl  assertions.Template
	json  map[string]any
	stack awscdk.Stack
}

var (
	once       sync.Once
	prod, emu  synthed
	plain, esm synthed // -c security=plaintext; -c triggersVia=esm
	synthErr   error
	assetDir   string
)

// synth builds the production and the emulator stacks once for all tests
// (each jsii round trip costs seconds), with cdk-nag applied as in main.
func synth(t *testing.T) (synthed, synthed) {
	t.Helper()
	once.Do(func() {
		var err error
		assetDir, err = os.MkdirTemp("", "kafki-infra-test")
		if err != nil {
			synthErr = err
			return
		}
		lambdas, brokerd := assets(t, assetDir)
		build := func(ctx map[string]string) synthed {
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(assetDir, "out-"+ctx["stackName"]))})
			get := func(k string) any {
				if v, ok := ctx[k]; ok {
					return v
				}
				return nil
			}
			ctx["lambdaAssets"], ctx["brokerdDir"] = lambdas, brokerd
			c, err := FromContext(root(t), get)
			if err != nil {
				synthErr = err
				return synthed{}
			}
			k, err := New(app, c, nil)
			if err != nil {
				synthErr = err
				return synthed{}
			}
			awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
			tmpl := assertions.Template_FromStack(k.Stack, nil)
			var m map[string]any
			b, _ := json.Marshal(tmpl.ToJSON())
			_ = json.Unmarshal(b, &m)
			return synthed{tmpl: tmpl, json: m, stack: k.Stack}
		}
		prod = build(map[string]string{"stackName": "KafkiTest", "triggers": "orders=recorder"})
		if synthErr == nil {
			emu = build(map[string]string{"stackName": "KafkiEmu", "emulator": "true", "triggers": "orders=recorder"})
		}
		if synthErr == nil {
			plain = build(map[string]string{"stackName": "KafkiPlain", "security": "plaintext", "triggers": "orders=recorder"})
		}
		if synthErr == nil {
			esm = build(map[string]string{"stackName": "KafkiEsm", "triggersVia": "esm", "triggers": "orders=recorder"})
		}
	})
	if synthErr != nil {
		t.Fatal(synthErr)
	}
	return prod, emu
}

func TestMain(m *testing.M) {
	code := m.Run()
	if assetDir != "" {
		os.RemoveAll(assetDir)
	}
	jsii.Close()
	os.Exit(code)
}

func resources(s synthed, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		rm := r.(map[string]any)
		if rm["Type"] == typ {
			props, _ := rm["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

func TestTableKeysComeFromSchema(t *testing.T) {
	p, e := synth(t)
	schema, err := ReadSchema(filepath.Join(root(t), "brokerd/metastore/schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []synthed{p, e} {
		s.tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
			"KeySchema": []any{
				map[string]any{"AttributeName": schema.PartitionKey.Name, "KeyType": "HASH"},
				map[string]any{"AttributeName": schema.SortKey.Name, "KeyType": "RANGE"},
			},
			"AttributeDefinitions": assertions.Match_ArrayWith(&[]any{
				map[string]any{"AttributeName": schema.PartitionKey.Name, "AttributeType": schema.PartitionKey.Type},
			}),
			"BillingMode":                      "PAY_PER_REQUEST",
			"TimeToLiveSpecification":          map[string]any{"AttributeName": schema.TTLAttribute, "Enabled": true},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"DeletionProtectionEnabled":        true,
		})
	}
}

func TestBucketBlocksPublicAccessAndDeniesPlainHTTP(t *testing.T) {
	p, _ := synth(t)
	p.tmpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), &map[string]any{
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
		},
		"BucketEncryption": assertions.Match_ObjectLike(&map[string]any{}),
		"LifecycleConfiguration": map[string]any{"Rules": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 1}}),
		})},
	})
	p.tmpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), &map[string]any{
		"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{
				"Effect": "Deny", "Action": "s3:*",
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			}),
		})}),
	})
}

func TestBrokersSpreadOverThreeAZsWithDistinctIdentities(t *testing.T) {
	p, _ := synth(t)
	groups := resources(p, "AWS::AutoScaling::AutoScalingGroup")
	if len(groups) != 3 {
		t.Fatalf("%d broker groups, want 3", len(groups))
	}
	subnets := map[string]bool{}
	for id, g := range groups {
		if g["MinSize"] != "1" || g["MaxSize"] != "1" {
			t.Errorf("%s: min %v max %v, want exactly one instance", id, g["MinSize"], g["MaxSize"])
		}
		b, _ := json.Marshal(g["VPCZoneIdentifier"])
		subnets[string(b)] = true
	}
	if len(subnets) != 3 {
		t.Errorf("broker groups use %d distinct subnets, want 3", len(subnets))
	}
	// Each private subnet is in a different AZ.
	azs := map[string]bool{}
	for id, s := range resources(p, "AWS::EC2::Subnet") {
		if strings.Contains(id, "private") {
			b, _ := json.Marshal(s["AvailabilityZone"])
			azs[string(b)] = true
		}
	}
	if len(azs) != 3 {
		t.Errorf("private subnets in %d AZs, want 3", len(azs))
	}
	ids := map[string]bool{}
	for _, lt := range resources(p, "AWS::EC2::LaunchTemplate") {
		b, _ := json.Marshal(lt)
		ud := string(b)
		for n := 1; n <= 3; n++ {
			if strings.Contains(ud, fmt.Sprintf("KAFKI_NODE_ID=%d\\n", n)) {
				ids[fmt.Sprint(n)] = true
				if !strings.Contains(ud, fmt.Sprintf("KAFKI_ADVERTISED_LISTENERS=CLIENT://broker-%[1]d.kafki.internal:9093,REPLICATION://broker-%[1]d.kafki.internal:9094,LOCAL://127.0.0.1:9092\\n", n)) {
					t.Errorf("broker %d does not advertise its own name", n)
				}
			}
		}
		if !strings.Contains(ud, "KAFKI_BROKER_RACK=$AZ") || !strings.Contains(ud, "KAFKI_REPLICA_SELECTOR_CLASS=org.apache.kafka.common.replica.RackAwareReplicaSelector") || !strings.Contains(ud, "placement/availability-zone") {
			t.Error("a broker's rack is not its AZ")
		}
	}
	if len(ids) != 3 {
		t.Errorf("node ids %v, want 1, 2 and 3", ids)
	}
	if n := len(resources(p, "AWS::EC2::NetworkInterface")); n != 3 {
		t.Errorf("%d broker interfaces, want 3", n)
	}
	p.tmpl.ResourceCountIs(jsii.String("AWS::Route53::RecordSet"), jsii.Number(4)) // 3 brokers + bootstrap
}

func TestNoWildcardResourceForS3OrDynamoDB(t *testing.T) {
	p, e := synth(t)
	for _, s := range []synthed{p, e} {
		for id, pol := range resources(s, "AWS::IAM::Policy") {
			doc := pol["PolicyDocument"].(map[string]any)
			for _, st := range doc["Statement"].([]any) {
				stm := st.(map[string]any)
				if !hasStar(stm["Resource"]) {
					continue
				}
				for _, a := range list(stm["Action"]) {
					if strings.HasPrefix(a, "s3:") || strings.HasPrefix(a, "dynamodb:") {
						t.Errorf("%s: %s on Resource \"*\"", id, a)
					}
				}
			}
		}
	}
}

func hasStar(r any) bool {
	switch v := r.(type) {
	case string:
		return v == "*"
	case []any:
		for _, x := range v {
			if x == "*" {
				return true
			}
		}
	}
	return false
}

func list(a any) []string {
	switch v := a.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// ingress lists every ingress rule of s as port -> sources (the security
// group's logical id, or the CIDR).
func ingress(t *testing.T, s synthed) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	add := func(where string, r map[string]any) {
		if r["CidrIp"] == "0.0.0.0/0" || r["CidrIpv6"] == "::/0" {
			t.Errorf("%s: ingress from anywhere: %v", where, r)
		}
		if r["IpProtocol"] != "tcp" || fmt.Sprint(r["FromPort"]) != fmt.Sprint(r["ToPort"]) {
			t.Errorf("%s: not a single tcp port: %v", where, r)
		}
		var port int
		fmt.Sscan(fmt.Sprint(r["FromPort"]), &port)
		src := fmt.Sprint(r["CidrIp"])
		if g, ok := r["SourceSecurityGroupId"].(map[string]any); ok {
			src = fmt.Sprint(g["Fn::GetAtt"].([]any)[0])
		}
		out[port] = append(out[port], src)
	}
	for id, sg := range resources(s, "AWS::EC2::SecurityGroup") {
		for _, r := range anyList(sg["SecurityGroupIngress"]) {
			add(id, r.(map[string]any))
		}
	}
	for id, r := range resources(s, "AWS::EC2::SecurityGroupIngress") {
		add(id, r)
	}
	return out
}

func TestSecurityGroupsOpenOnlyTheListenersTheyShould(t *testing.T) {
	p, _ := synth(t)
	in := ingress(t, p)
	isBrokers := func(src string) bool { return strings.HasPrefix(src, "networkBrokers") }
	isClients := func(src string) bool { return strings.HasPrefix(src, "networkClients") }
	if len(in) != 2 || len(in[SecurePort]) != 2 || len(in[InterBrokerPort]) != 1 {
		t.Fatalf("ingress %v: want %d from clients and brokers, %d from brokers only", in, SecurePort, InterBrokerPort)
	}
	if !isBrokers(in[InterBrokerPort][0]) {
		t.Errorf("inter-broker listener open to %s, want the brokers' group only", in[InterBrokerPort][0])
	}
	var c, b bool
	for _, src := range in[SecurePort] {
		c, b = c || isClients(src), b || isBrokers(src)
	}
	if !c || !b {
		t.Errorf("client listener open to %v, want the clients' and the brokers' groups", in[SecurePort])
	}
	if _, open := in[ClientPort]; open {
		t.Errorf("the loopback listener's port %d is open in a security group", ClientPort)
	}
	// Plaintext: one listener for clients and replication.
	pl := ingress(t, plainSynth(t))
	if len(pl) != 1 || len(pl[ClientPort]) != 2 {
		t.Errorf("plaintext ingress %v, want tcp/%d from clients and brokers only", pl, ClientPort)
	}
}

func plainSynth(t *testing.T) synthed { synth(t); return plain }
func esmSynth(t *testing.T) synthed   { synth(t); return esm }

func anyList(v any) []any { l, _ := v.([]any); return l }

func TestEmulatorModeOmitsEC2(t *testing.T) {
	_, e := synth(t)
	for id, r := range e.json["Resources"].(map[string]any) {
		typ := r.(map[string]any)["Type"].(string)
		for _, prefix := range []string{"AWS::EC2::", "AWS::AutoScaling::", "AWS::Route53::", "AWS::ElasticLoadBalancingV2::"} {
			if strings.HasPrefix(typ, prefix) {
				t.Errorf("emulator mode has %s (%s)", id, typ)
			}
		}
	}
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::IAM::Role", "AWS::Lambda::Function", "AWS::SecretsManager::Secret", "AWS::CloudWatch::Dashboard"} {
		if len(resources(e, typ)) == 0 {
			t.Errorf("emulator mode lacks %s", typ)
		}
	}
}

// Alarms name one metric (MetricName, Namespace), not metric math, which
// MiniStack's CloudFormation refuses (and which a label on the metric
// would make CDK emit).
func TestAlarmsUseSingleMetrics(t *testing.T) {
	p, e := synth(t)
	for _, s := range []synthed{p, e} {
		alarms := resources(s, "AWS::CloudWatch::Alarm")
		if len(alarms) == 0 {
			t.Fatal("no alarms")
		}
		for id, a := range alarms {
			if a["Metrics"] != nil || a["MetricName"] == nil {
				t.Errorf("%s: not a single-metric alarm", id)
			}
		}
	}
}

func TestNagFindingsAreAllSuppressed(t *testing.T) {
	p, e := synth(t)
	for _, s := range []synthed{p, e} {
		for _, level := range []func(*string, any) *[]*cxapi.SynthesisMessage{
			assertions.Annotations_FromStack(s.stack).FindError, assertions.Annotations_FromStack(s.stack).FindWarning,
		} {
			for _, m := range *level(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
				t.Errorf("%s: %v", *m.Id, m.Entry.Data)
			}
		}
	}
}

func TestBrokerUnitShutsDownWithSIGTERMInTime(t *testing.T) {
	for _, d := range []time.Duration{30 * time.Second, 2 * time.Minute} {
		u := BrokerUnit(d)
		if !strings.Contains(u, "KillSignal=SIGTERM\n") {
			t.Error("unit does not stop brokerd with SIGTERM")
		}
		var secs int
		for _, line := range strings.Split(u, "\n") {
			fmt.Sscanf(line, "TimeoutStopSec=%d", &secs)
		}
		if time.Duration(secs)*time.Second < d {
			t.Errorf("TimeoutStopSec=%d shorter than the broker's shutdown timeout %s", secs, d)
		}
	}
}

func TestContextErrorsAreOneLine(t *testing.T) {
	for ctx, want := range map[string]string{
		"brokers=0":              "-c brokers=0",
		"brokers=x":              "not an integer",
		"storage=nfs":            "instance or gp3",
		"instanceType=m7g.large": "Graviton",
		"instanceType=m7i.large,storage=instance": "no instance store",
		"vpcId=vpc-1":             "not a VPC id",
		"clientCidr=0.0.0.0/0":    "whole Internet",
		"security=tls":            "sasl_ssl or plaintext",
		"triggers=orders=nosuch":  "not one of",
		"retentionDays=0":         "retentionDays",
		"shutdownTimeout=forever": "duration",
	} {
		kv := map[string]any{}
		for _, p := range strings.Split(ctx, ",") {
			k, v, _ := strings.Cut(p, "=")
			kv[k] = v
		}
		_, err := FromContext("/", func(k string) any { return kv[k] })
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("-c %s: error %v, want one line containing %q", ctx, err, want)
		}
	}
	if _, err := FromContext("/", func(string) any { return nil }); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if _, err := FromContext("/", func(k string) any {
		return map[string]any{"instanceType": "i4i.large", "storage": "instance"}[k]
	}); err != nil {
		t.Errorf("i4i with instance store: %v", err)
	}
}

// The brokers' trigger runner declares the app's triggers in the form
// kafki-triggers --declare reads (lambdas/triggers.Declare): definitions
// with an id, the function's ARN and the topic, from TRIM_HORIZON like
// the ESM alternative, through the local broker's admin endpoint.
func TestTriggerRunnerDeclaresTheAppsTriggers(t *testing.T) {
	p, _ := synth(t)
	raw, _ := json.Marshal(p.json)
	all := string(raw)
	for _, want := range []string{
		`kafki-triggers --declare=/etc/kafki/triggers.json`,
		`KAFKI_ADMIN=http://127.0.0.1:9644`,
		`\"id\": \"recorder-orders\"`,
		`\"topics\": [\n        \"orders\"\n      ]`,
		`\"starting_position\": \"TRIM_HORIZON\"`,
		`\"enabled\": true`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("broker user data lacks %s", want)
		}
	}
}

// The alarms that page on replication and leases use the broker's own
// metrics (one alarm per broker, since each metric has a node
// dimension), not filters on its log text; the one filter left counts
// what no broker metric does (the controller's fencings).
func TestPagingAlarmsUseBrokerMetrics(t *testing.T) {
	p, e := synth(t)
	for _, s := range []synthed{p, e} {
		byMetric := map[string]int{}
		for _, a := range resources(s, "AWS::CloudWatch::Alarm") {
			if name, _ := a["MetricName"].(string); name != "" {
				byMetric[name]++
			}
		}
		brokers := byMetric["kafki_connections"] // one NotReporting alarm per broker
		if brokers == 0 {
			t.Fatal("no per-broker alarms")
		}
		for _, m := range []string{"kafki_under_replicated_partitions", "kafki_offline_partitions", "kafki_lease_renewal_failures_total", "kafki_partition_offline"} {
			if byMetric[m] != brokers {
				t.Errorf("%d alarms on %s, want one per broker (%d)", byMetric[m], m, brokers)
			}
		}
		filters := resources(s, "AWS::Logs::MetricFilter")
		if len(filters) != 1 {
			t.Errorf("%d log metric filters, want 1 (BrokersFenced)", len(filters))
		}
		for id, f := range filters {
			if pat, _ := f["FilterPattern"].(string); !strings.Contains(pat, "broker session lapsed; fenced") {
				t.Errorf("%s: filter %q", id, pat)
			}
		}
	}
}

// Every broker metric the dashboard and the alarms name is one the
// CloudWatch agent publishes (PrometheusMetrics): a metric it does not
// select never reaches CloudWatch, and its alarm would never fire.
func TestDashboardAndAlarmMetricsArePublished(t *testing.T) {
	published := map[string]bool{}
	for _, m := range PrometheusMetrics {
		published[m] = true
	}
	p, e := synth(t)
	for _, s := range []synthed{p, e} {
		var body []byte
		for _, d := range resources(s, "AWS::CloudWatch::Dashboard") {
			b, _ := json.Marshal(d["DashboardBody"])
			body = append(body, b...)
		}
		for _, a := range resources(s, "AWS::CloudWatch::Alarm") {
			if name, _ := a["MetricName"].(string); strings.HasPrefix(name, "kafki_") {
				body = append(body, " "+name+" "...)
			}
		}
		names := regexp.MustCompile(`kafki_[a-z_]+`).FindAllString(string(body), -1)
		if len(names) == 0 {
			t.Fatal("no broker metric on the dashboard or the alarms")
		}
		for _, n := range names {
			if !published[n] {
				t.Errorf("%s is on the dashboard or an alarm but the agent does not publish it", n)
			}
		}
	}
}

// Every function's environment names the table or bucket the stack made
// for it (a function without its variable exits at start), and emulator
// mode outputs the declared triggers for host-process runners.
func TestFunctionsNameTheirTargetsAndEmulatorOutputsTriggers(t *testing.T) {
	p, e := synth(t)
	for _, s := range []synthed{p, e} {
		for variable, target := range map[string]string{"SINK_TABLE": "SinkTable", "RECORDER_TABLE": "RecorderTable", "ARCHIVE_BUCKET": "ArchiveBucket"} {
			s.tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
				"Environment": map[string]any{"Variables": map[string]any{variable: assertions.Match_AnyValue()}},
			})
			if _, ok := s.json["Outputs"].(map[string]any)[target]; !ok {
				t.Errorf("no %s output", target)
			}
		}
	}
	out, ok := e.json["Outputs"].(map[string]any)["Triggers"]
	if !ok {
		t.Fatal("emulator mode: no Triggers output")
	}
	b, _ := json.Marshal(out)
	if !strings.Contains(string(b), "recorder-orders") {
		t.Errorf("Triggers output lacks the declared trigger recorder-orders: %s", b)
	}
	if _, ok := p.json["Outputs"].(map[string]any)["Triggers"]; ok {
		t.Error("production mode outputs Triggers; its brokers read them from their boot script")
	}
}
