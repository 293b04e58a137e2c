// Package stack is Kafki's CDK stack: network, storage, brokers,
// consumers and observability (one construct each), parameterised by
// Config. infra/README.md describes it for operators.
package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Kafki is the built stack and its parts (Network and the broker fleet
// are nil/empty in emulator mode).
type Kafki struct {
	Stack         awscdk.Stack
	Network       *Network
	Storage       *Storage
	Brokers       *Brokers
	Consumers     *Consumers
	Observability *Observability
}

// New builds the stack in app from c.
func New(app constructs.Construct, c Config, props *awscdk.StackProps) (*Kafki, error) {
	schema, err := ReadSchema(c.Path(c.SchemaPath))
	if err != nil {
		return nil, err
	}
	if props == nil {
		props = &awscdk.StackProps{}
	}
	if props.Description == nil {
		mode := fmt.Sprintf("%d brokers (%s, %s, %s)", c.Brokers, c.InstanceType, c.Storage, c.Security)
		if c.Emulator {
			mode = "emulator mode: table, bucket, roles, functions, secret, dashboard; no EC2"
		}
		props.Description = jsii.String("Kafki, a Kafka-compatible commit log: " + mode)
	}
	if err := certsAsset(c); err != nil {
		return nil, err
	}
	k := &Kafki{Stack: awscdk.NewStack(app, jsii.String(c.StackName), props)}
	k.Storage = NewStorage(k.Stack, "storage", c, schema)
	if !c.Emulator {
		k.Network = NewNetwork(k.Stack, "network", c)
	}
	k.Brokers = NewBrokers(k.Stack, "brokers", c, k.Storage)
	if k.Consumers, err = NewConsumers(k.Stack, "consumers", c, k.Brokers.Role, k.Network, k.Brokers.Security); err != nil {
		return nil, err
	}
	if !c.Emulator {
		if err := k.Brokers.Fleet(c, k.Storage, k.Network, k.Consumers); err != nil {
			return nil, err
		}
	}
	k.Observability = NewObservability(k.Stack, "observability", c, k.Brokers, k.Consumers)
	k.outputs(c)
	Suppress(k, c)
	return k, nil
}

func (k *Kafki) outputs(c Config) {
	out := func(id, desc string, v *string) {
		awscdk.NewCfnOutput(k.Stack, jsii.String(id), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(desc)})
	}
	if !c.Emulator {
		out("BootstrapServers", "every broker's advertised listener (private hosted zone "+c.ZoneName+")", jsii.String(BootstrapServers(c)))
		out("BootstrapName", "one name for all brokers", jsii.String(k.Brokers.Bootstrap))
		out("ClientSecurityGroup", "put clients in this security group", k.Network.Clients.SecurityGroupId())
		for i, g := range k.Brokers.Groups {
			out(fmt.Sprintf("Broker%dGroup", i+1), fmt.Sprintf("Auto Scaling group of broker %d (infra/scripts/roll.sh)", i+1), g.AutoScalingGroupName())
		}
	}
	out("MetadataTable", "--metadata.table", k.Storage.Table.TableName())
	out("TierBucket", "--tier.s3.bucket", k.Storage.Bucket.BucketName())
	sec := k.Brokers.Security
	out("InterBrokerSecret", "the brokers' own SCRAM login {username, password} (super user; on-host tools)", sec.InterBroker.SecretArn())
	out("ConsumerSecret", "the Lambda consumers' SCRAM login {username, password} (SASL_SCRAM_512_AUTH)", sec.Consumer.SecretArn())
	if sec.Certs != nil {
		out("RootCASecret", "the brokers' CA {certificate} (SERVER_ROOT_CA_CERTIFICATE; clients' ssl.truststore)", sec.RootCAArn)
		out("SecurityProtocol", "clients connect with", jsii.String("SASL_SSL (SCRAM-SHA-512 or SCRAM-SHA-256)"))
	}
	out("BrokerRole", "the brokers' role", k.Brokers.Role.RoleArn())
	out("DashboardUrl", "CloudWatch dashboard", awscdk.Fn_Sub(jsii.String(
		"https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#dashboards:name=${Name}"),
		&map[string]*string{"Name": k.Observability.Dashboard.DashboardName()}))
	for _, name := range c.Functions {
		out("Function"+camel(name), "Lambda function "+name, k.Consumers.Functions[name].FunctionName())
	}
	for id, v := range k.Consumers.Targets {
		out(id, "where a trigger function writes", v)
	}
	if c.Emulator {
		// The declared triggers, as kafki-triggers --declare reads them:
		// on EC2 the boot script writes them to /etc/kafki/triggers.json;
		// host-process brokers get them from here.
		out("Triggers", "kafki-triggers --declare file (declared triggers, function ARNs resolved)", jsii.String(k.Consumers.RunnerConfig))
	}
}

func camel(s string) string {
	out, up := []byte{}, true
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '-' || ch == '_' {
			up = true
			continue
		}
		if up && ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		up = false
		out = append(out, ch)
	}
	return string(out)
}
