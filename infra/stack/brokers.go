package stack

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Brokers is the broker fleet: one Auto Scaling group of exactly one
// instance per broker, each in one AZ's private subnet, each with its own
// network interface (created here, attached at boot) whose address its
// DNS name points at. A replacement instance therefore comes back with
// the same node.id, the same rack (its AZ) and the same advertised name,
// and refills its empty disk from the leaders and the tier.
//
// Role is the instance role: its table, its bucket, its log groups,
// metrics in its namespaces, its secrets (see Security), and attaching
// its own interfaces. In emulator mode only Role, the log groups and the
// two login secrets exist.
type Brokers struct {
	constructs.Construct
	Role        awsiam.Role
	BrokerLogs  awslogs.LogGroup
	MetricsLogs awslogs.LogGroup
	Security    *Security
	Groups      []awsautoscaling.AutoScalingGroup
	Names       []string // broker-<id>.<zone>
	Bootstrap   string   // bootstrap.<zone>:<client listener port>
}

// BrokerName is broker id's DNS name.
func BrokerName(c Config, id int) string { return fmt.Sprintf("broker-%d.%s", id, c.ZoneName) }

// BootstrapServers lists every broker's advertised listener.
func BootstrapServers(c Config) string {
	s := ""
	for id := 1; id <= c.Brokers; id++ {
		if id > 1 {
			s += ","
		}
		s += fmt.Sprintf("%s:%d", BrokerName(c, id), c.ClientListenerPort())
	}
	return s
}

// BootstrapHost is the name every broker's address is behind.
func BootstrapHost(c Config) string { return "bootstrap." + c.ZoneName }

// NewBrokers creates the role, the log groups and the secrets.
func NewBrokers(scope constructs.Construct, id string, c Config, st *Storage) *Brokers {
	b := &Brokers{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	b.Bootstrap = fmt.Sprintf("%s:%d", BootstrapHost(c), c.ClientListenerPort())
	for i := 1; i <= c.Brokers; i++ {
		b.Names = append(b.Names, BrokerName(c, i))
	}
	b.Role = awsiam.NewRole(b.Construct, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String("Kafki broker: its metadata table, its tier bucket, its logs and metrics"),
	})
	// The metastore's operations (brokerd/metastore): reads, conditional
	// writes, transactions, and the start-up schema check.
	b.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("MetadataTable"),
		Actions: jsii.Strings("dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive", "dynamodb:GetItem",
			"dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
			"dynamodb:ConditionCheckItem"),
		Resources: &[]*string{st.Table.TableArn()},
	}))
	// The tier (tiering/objstore): conditional puts, multipart uploads,
	// ranged reads, retention deletes and the orphan sweeper's listing.
	b.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TierBucket"),
		Actions:   jsii.Strings("s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"),
		Resources: &[]*string{st.Bucket.BucketArn()},
	}))
	b.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("TierObjects"),
		Actions: jsii.Strings("s3:GetObject", "s3:PutObject", "s3:DeleteObject",
			"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
		Resources: &[]*string{st.Bucket.ArnForObjects(jsii.String("*"))},
	}))
	b.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("Metrics"),
		Actions:    jsii.Strings("cloudwatch:PutMetricData"),
		Resources:  jsii.Strings("*"), // PutMetricData has no resource type; the namespace condition narrows it
		Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": []string{MetricNamespace, "CWAgent"}}},
	}))
	b.BrokerLogs = awslogs.NewLogGroup(b.Construct, jsii.String("BrokerLogs"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_MONTH, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	b.MetricsLogs = awslogs.NewLogGroup(b.Construct, jsii.String("MetricsLogs"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_WEEK, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	b.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("Logs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
		Resources: &[]*string{b.BrokerLogs.LogGroupArn(), b.MetricsLogs.LogGroupArn()},
	}))
	b.Security = NewSecurity(b.Construct, "security", c, b)
	b.Security.grantBrokers(b.Role)
	return b
}

// Fleet creates the instances, their interfaces and their DNS names.
func (b *Brokers) Fleet(c Config, st *Storage, net *Network, cons *Consumers) error {
	binDir := c.Path(c.BrokerdDir)
	for _, f := range []string{"brokerd", "kafki"} {
		if _, err := os.Stat(filepath.Join(binDir, f)); err != nil {
			return fmt.Errorf("broker asset %s: not found; run `make brokerd-linux` or give -c brokerdDir=DIR", filepath.Join(binDir, f))
		}
	}
	stack := awscdk.Stack_Of(b.Construct)
	b.Role.AddManagedPolicy(awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore")))
	// The agent's dimensions and the boot script's ENI takeover.
	b.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("Describe"),
		Actions:   jsii.Strings("ec2:DescribeNetworkInterfaces", "ec2:DescribeInstances", "ec2:DescribeTags"),
		Resources: jsii.Strings("*"), // EC2 Describe* has no resource-level permissions
	}))

	assets := map[string]awss3assets.Asset{}
	names := []string{"brokerd", "kafki"}
	// kafki-triggers: the runner (runner mode), and the ACL grant of the
	// consumers' user at boot (sasl_ssl with triggers, either mode).
	grant := c.Secure() && len(c.Triggers) > 0
	if grant && cons.RunnerPath == "" {
		if _, err := os.Stat(c.Path(c.TriggerRunner)); err != nil {
			return fmt.Errorf("kafki-triggers %s: not found; -c security=sasl_ssl grants the triggers' ACLs with it at boot (make brokerd-linux)", c.Path(c.TriggerRunner))
		}
	}
	if cons.RunnerPath != "" || grant {
		names = append(names, "kafki-triggers")
	}
	for _, n := range names {
		path := filepath.Join(binDir, n)
		if n == "kafki-triggers" {
			path = c.Path(c.TriggerRunner)
		}
		a := awss3assets.NewAsset(b.Construct, jsii.String("Asset-"+n), &awss3assets.AssetProps{Path: jsii.String(path)})
		a.GrantRead(b.Role)
		assets[n] = a
	}

	zone := awsroute53.NewPrivateHostedZone(b.Construct, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{
		ZoneName: jsii.String(c.ZoneName), Vpc: net.Vpc,
		Comment: jsii.String("Kafki brokers' advertised names"),
	})
	subnets := net.Vpc.SelectSubnets(&awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}).Subnets
	var ips []*string
	for id := 1; id <= c.Brokers; id++ {
		subnet := (*subnets)[(id-1)%len(*subnets)]
		sid := fmt.Sprintf("Broker%d", id)
		eni := awsec2.NewCfnNetworkInterface(b.Construct, jsii.String(sid+"Interface"), &awsec2.CfnNetworkInterfaceProps{
			SubnetId:    subnet.SubnetId(),
			GroupSet:    &[]any{net.Brokers.SecurityGroupId()},
			Description: jsii.String(fmt.Sprintf("Kafki broker %d: the address of %s", id, BrokerName(c, id))),
			Tags:        &[]*awscdk.CfnTag{{Key: jsii.String("kafki:broker"), Value: jsii.String(fmt.Sprint(id))}},
		})
		ip := eni.AttrPrimaryPrivateIpAddress()
		ips = append(ips, ip)
		awsroute53.NewARecord(b.Construct, jsii.String(sid+"Name"), &awsroute53.ARecordProps{
			Zone: zone, RecordName: jsii.String(fmt.Sprintf("broker-%d", id)),
			Target: awsroute53.RecordTarget_FromIpAddresses(ip), Ttl: awscdk.Duration_Seconds(jsii.Number(60)),
		})
		eniArn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("network-interface"), ResourceName: eni.Ref()})
		b.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:     jsii.String(fmt.Sprintf("Interface%d", id)),
			Actions: jsii.Strings("ec2:AttachNetworkInterface", "ec2:DetachNetworkInterface"),
			Resources: &[]*string{eniArn, stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("ec2"), Resource: jsii.String("instance"), ResourceName: jsii.String("*")})},
		}))

		boot := BrokerBoot{
			NodeID: id, Cluster: c.StackName,
			Advertised: fmt.Sprintf("%s:%d", BrokerName(c, id), c.ClientListenerPort()),
			Name:       BrokerName(c, id),
			ENI:        *eni.Ref(), Region: *stack.Region(),
			Table: *st.Table.TableName(), Bucket: *st.Bucket.BucketName(),
			Storage: c.Storage, RetentionDays: c.RetentionDays, Replication: c.ReplicationFactor(),
			Shutdown: c.ShutdownTimeout, BrokerLogs: *b.BrokerLogs.LogGroupName(), MetricsLogs: *b.MetricsLogs.LogGroupName(),
			Bootstrap: b.Bootstrap,
		}
		if c.Secure() {
			boot.Secure = b.Security.boot(c)
		}
		if cons.RunnerPath != "" {
			boot.TriggerRole, boot.TriggersJSON = *cons.RunnerRole.RoleArn(), cons.RunnerConfig
		}
		ud := awsec2.UserData_ForLinux(&awsec2.LinuxUserDataOptions{Shebang: jsii.String("#!/bin/bash")})
		// The AWS CLI's downloads below need a region before anything is configured.
		ud.AddCommands(jsii.String("export AWS_DEFAULT_REGION=" + *stack.Region()))
		for _, n := range names {
			ud.AddS3DownloadCommand(&awsec2.S3DownloadOptions{
				Bucket: assets[n].Bucket(), BucketKey: assets[n].S3ObjectKey(),
				LocalFile: jsii.String("/tmp/kafki-assets/" + n),
			})
		}
		ud.AddCommands(jsii.String(BootScript(boot)))

		var devices *[]*awsec2.BlockDevice
		if c.Storage == StorageGP3 {
			devices = &[]*awsec2.BlockDevice{{
				DeviceName: jsii.String("/dev/sdf"),
				Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(float64(c.DiskGiB)), &awsec2.EbsDeviceOptions{
					VolumeType: awsec2.EbsDeviceVolumeType_GP3, Encrypted: jsii.Bool(true), DeleteOnTermination: jsii.Bool(true),
				}),
			}}
		}
		lt := awsec2.NewLaunchTemplate(b.Construct, jsii.String(sid+"Template"), &awsec2.LaunchTemplateProps{
			InstanceType: awsec2.NewInstanceType(jsii.String(c.InstanceType)),
			MachineImage: awsec2.MachineImage_FromSsmParameter(
				jsii.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"), nil),
			Role:          b.Role,
			SecurityGroup: net.Brokers,
			UserData:      ud,
			RequireImdsv2: jsii.Bool(true),
			BlockDevices:  devices,
			EbsOptimized:  jsii.Bool(true),
		})
		asg := awsautoscaling.NewAutoScalingGroup(b.Construct, jsii.String(sid), &awsautoscaling.AutoScalingGroupProps{
			Vpc:            net.Vpc,
			VpcSubnets:     &awsec2.SubnetSelection{Subnets: &[]awsec2.ISubnet{subnet}},
			LaunchTemplate: lt,
			MinCapacity:    jsii.Number(1),
			MaxCapacity:    jsii.Number(1),
			// Instances are replaced one at a time by infra/scripts/roll.sh,
			// which waits for every partition to be in sync in between.
			HealthChecks: awsautoscaling.HealthChecks_Ec2(&awsautoscaling.Ec2HealthChecksOptions{GracePeriod: awscdk.Duration_Minutes(jsii.Number(10))}),
		})
		awscdk.Tags_Of(asg).Add(jsii.String("kafki:broker"), jsii.String(fmt.Sprint(id)), nil)
		awscdk.Tags_Of(asg).Add(jsii.String("Name"), jsii.String(fmt.Sprintf("%s-broker-%d", c.StackName, id)), nil)
		b.Groups = append(b.Groups, asg)
	}
	awsroute53.NewARecord(b.Construct, jsii.String("BootstrapName"), &awsroute53.ARecordProps{
		Zone: zone, RecordName: jsii.String("bootstrap"),
		Target: awsroute53.RecordTarget_FromIpAddresses(ips...), Ttl: awscdk.Duration_Seconds(jsii.Number(60)),
	})
	return nil
}
