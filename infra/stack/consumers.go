package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Consumers is the Lambda side: the functions built by `make lambdas`
// (build/lambdas/<name>/bootstrap, provided.al2023), each with its own
// role, and the way records reach them:
//
//   - runner (default): kafki-triggers runs on every broker instance as a
//     member of each trigger's consumer group, under RunnerRole, which
//     may only invoke the declared functions. The group protocol spreads
//     partitions over the brokers and moves them when one goes, so the
//     runner is as available as the cluster, across three AZs, for no
//     extra instance; it reads from the local listener, so trigger
//     traffic does not cross AZs more than the fetch itself. An ECS
//     service would add a task per AZ and an image build (ko, ECR) for
//     isolation the systemd unit already gives (its own user, its own
//     role).
//   - esm: AWS's SelfManagedKafkaEventSource on each function, polling
//     the brokers from the private subnets. With -c security=sasl_ssl it
//     logs in with SASL_SCRAM_512_AUTH (the consumers' secret) and checks
//     the brokers against SERVER_ROOT_CA_CERTIFICATE (the stack's CA);
//     the function's role may read exactly those two secrets.
//
// With sasl_ssl, kafki-triggers logs in the same way (SCRAM-SHA-512 as
// the consumers' user, the CA file from the root-CA secret), and its role
// may read the same two secrets.
type Consumers struct {
	constructs.Construct
	Functions map[string]awslambda.Function
	// Targets are where the functions write, by output name (SinkTable,
	// RecorderTable, ArchiveBucket): each function's environment names
	// its own, so a deployed function runs as built.
	Targets map[string]*string
	// Buckets are the targets that are buckets, Writers the roles that
	// write objects into them (cdk-nag suppressions).
	Buckets      []awss3.Bucket
	Writers      []awsiam.Role
	RunnerRole   awsiam.Role
	RunnerPath   string // kafki-triggers binary; empty: not installed
	RunnerConfig string // triggers.json (function ARNs as tokens)
}

// NewConsumers creates the functions and the runner's role, trusted by
// brokerRole.
func NewConsumers(scope constructs.Construct, id string, c Config, brokerRole awsiam.IRole, net *Network, sec *Security) (*Consumers, error) {
	cs := &Consumers{Construct: constructs.NewConstruct(scope, jsii.String(id)), Functions: map[string]awslambda.Function{}, Targets: map[string]*string{}}
	dir := c.Path(c.LambdaAssets)
	for _, name := range c.Functions {
		if err := checkAsset(filepath.Join(dir, name), ""); err != nil {
			return nil, err
		}
		fn, _ := goFunction{
			logsID: name + "-logs", roleID: name + "-role", fnID: name,
			asset:           filepath.Join(dir, name),
			roleDescription: "Kafki function " + name + ": its own log group only",
			description:     "Kafki trigger function " + name,
			environment:     func(role awsiam.Role) *map[string]*string { return cs.target(c, name, role) },
		}.add(cs.Construct)
		cs.Functions[name] = fn
	}

	cs.RunnerRole = awsiam.NewRole(cs.Construct, jsii.String("RunnerRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewArnPrincipal(brokerRole.RoleArn()),
		Description: jsii.String("kafki-triggers: invoke the declared trigger functions only"),
	})
	cs.RunnerRole.GrantAssumeRole(brokerRole)
	sec.GrantConsumer(cs.RunnerRole, "ConsumerLogin")
	// entry is a trigger definition as kafki-triggers --declare reads it
	// (lambdas/triggers.Definition; omitted fields take AWS's defaults),
	// positioned like the ESM alternative below.
	type access struct {
		Type string `json:"Type"`
		URI  string `json:"URI"`
	}
	type entry struct {
		ID               string   `json:"id"`
		Function         string   `json:"function"`
		Topics           []string `json:"topics"`
		GroupID          string   `json:"group_id"`
		StartingPosition string   `json:"starting_position"`
		BatchSize        int      `json:"batch_size"`
		Enabled          bool     `json:"enabled"`
		// The secrets the trigger logs in with, as the ESM alternative
		// names them (the runner's own login comes from the same ones).
		SourceAccess []access `json:"source_access_configurations,omitempty"`
	}
	var sourceAccess []access
	if c.Secure() {
		sourceAccess = []access{
			{Type: "SASL_SCRAM_512_AUTH", URI: *sec.Consumer.SecretArn()},
			{Type: "SERVER_ROOT_CA_CERTIFICATE", URI: *sec.RootCAArn},
		}
	}
	var entries []entry
	for _, t := range c.Triggers {
		fn := cs.Functions[t.Function]
		if c.TriggersVia == TriggersESM && net != nil {
			props := &awslambdaeventsources.SelfManagedKafkaEventSourceProps{
				BootstrapServers: jsii.Strings(BootstrapList(c)...),
				Topic:            jsii.String(t.Topic),
				ConsumerGroupId:  jsii.String(t.Group),
				StartingPosition: awslambda.StartingPosition_TRIM_HORIZON,
				BatchSize:        jsii.Number(100),
				Vpc:              net.Vpc,
				VpcSubnets:       &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
				SecurityGroup:    net.Clients,
			}
			if c.Secure() {
				// SASL_SCRAM_512_AUTH and SERVER_ROOT_CA_CERTIFICATE
				// source access configurations.
				props.AuthenticationMethod = awslambdaeventsources.AuthenticationMethod_SASL_SCRAM_512_AUTH
				props.Secret = sec.Consumer
				props.RootCACertificate = sec.RootCA
				sec.GrantConsumer(fn.Role(), "KafkaEventSourceLogin")
			}
			fn.AddEventSource(awslambdaeventsources.NewSelfManagedKafkaEventSource(props))
			continue
		}
		fn.GrantInvoke(cs.RunnerRole)
		entries = append(entries, entry{
			ID: t.Function + "-" + t.Topic, Function: *fn.FunctionArn(), Topics: []string{t.Topic},
			GroupID: t.Group, StartingPosition: "TRIM_HORIZON", BatchSize: 100, Enabled: true,
			SourceAccess: sourceAccess,
		})
	}
	if c.TriggersVia == TriggersRunner && !c.Emulator {
		if _, err := os.Stat(c.Path(c.TriggerRunner)); err == nil {
			cs.RunnerPath = c.Path(c.TriggerRunner)
		} else {
			awscdk.Annotations_Of(cs.Construct).AddWarningV2(jsii.String("kafki:no-runner"), jsii.String(
				"kafki-triggers binary "+c.TriggerRunner+" not found: brokers run no trigger runner (make brokerd-linux builds it)"), nil)
		}
	}
	if entries == nil {
		entries = []entry{}
	}
	out, _ := json.MarshalIndent(map[string]any{"triggers": entries}, "", "  ")
	cs.RunnerConfig = string(out)
	return cs, nil
}

// target creates what function name writes to, grants its role writes
// there, and returns the environment that names it (the variables each
// function's doc gives). Without it a deployed function would exit at
// start for want of its table or bucket.
func (cs *Consumers) target(c Config, name string, role awsiam.Role) *map[string]*string {
	removal := awscdk.RemovalPolicy_DESTROY
	if c.Retain {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	table := func(id string, sortKey bool) awsdynamodb.Table {
		props := &awsdynamodb.TableProps{
			PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			RemovalPolicy: removal,
		}
		if sortKey {
			props.SortKey = &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING}
		}
		t := awsdynamodb.NewTable(cs.Construct, jsii.String(id), props)
		t.GrantWriteData(role)
		cs.Targets[id] = t.TableName()
		return t
	}
	switch name {
	case "dynamodb-sink": // one item per record key (pk)
		return &map[string]*string{"SINK_TABLE": table("SinkTable", false).TableName()}
	case "recorder": // one item per batch (pk = recorder name, sk = start-topic-partition-offset)
		return &map[string]*string{"RECORDER_TABLE": table("RecorderTable", true).TableName()}
	case "s3-archiver":
		b := awss3.NewBucket(cs.Construct, jsii.String("ArchiveBucket"), &awss3.BucketProps{
			BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
			Encryption:        awss3.BucketEncryption_S3_MANAGED,
			EnforceSSL:        jsii.Bool(true),
			ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
			RemovalPolicy:     removal,
		})
		b.GrantPut(role, nil)
		cs.Targets["ArchiveBucket"] = b.BucketName()
		cs.Buckets, cs.Writers = append(cs.Buckets, b), append(cs.Writers, role)
		return &map[string]*string{"ARCHIVE_BUCKET": b.BucketName()}
	}
	return nil
}

// BootstrapList is BootstrapServers as a list.
func BootstrapList(c Config) []string {
	var l []string
	for id := 1; id <= c.Brokers; id++ {
		l = append(l, fmt.Sprintf("%s:%d", BrokerName(c, id), c.ClientListenerPort()))
	}
	return l
}
