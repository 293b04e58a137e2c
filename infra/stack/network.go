package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Network is the VPC the brokers and their clients live in, and the two
// security groups that say who may talk to whom:
//
//   - Brokers: the brokers' own group. With -c security=sasl_ssl the
//     client listener (SecurePort, SASL_SSL) is open to the Clients group,
//     to the brokers themselves (kafki-triggers runs on them) and to
//     -c clientCidr if given; the inter-broker listener (InterBrokerPort,
//     SASL_SSL) only to the brokers; the loopback listener (ClientPort)
//     to nobody. With plaintext, ClientPort serves both clients and
//     replica fetchers. Egress: HTTPS (AWS APIs through the gateway
//     endpoints or the NAT) and the broker ports to other brokers.
//   - Clients: a group to put producers, consumers, the trigger runner's
//     event-source alternative and your own services in.
//
// S3 and DynamoDB are reached through gateway endpoints, so the data path
// (segments, leases) never crosses the NAT.
type Network struct {
	constructs.Construct
	Vpc     awsec2.IVpc
	Brokers awsec2.SecurityGroup
	Clients awsec2.SecurityGroup
}

// NewNetwork creates (or, with -c vpcId, looks up) the VPC and creates the
// security groups.
func NewNetwork(scope constructs.Construct, id string, c Config) *Network {
	n := &Network{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	if c.VpcID != "" {
		// Lookup needs an account and region (CDK_DEFAULT_ACCOUNT,
		// CDK_DEFAULT_REGION) and is cached in cdk.context.json. The VPC
		// must have private subnets with egress and gateway endpoints for
		// S3 and DynamoDB already.
		n.Vpc = awsec2.Vpc_FromLookup(n.Construct, jsii.String("Vpc"), &awsec2.VpcLookupOptions{VpcId: jsii.String(c.VpcID)})
	} else {
		vpc := awsec2.NewVpc(n.Construct, jsii.String("Vpc"), &awsec2.VpcProps{
			IpAddresses: awsec2.IpAddresses_Cidr(jsii.String(c.VpcCidr)),
			// An environment-agnostic stack would get only two AZs from
			// MaxAzs; the region's first three are named explicitly.
			AvailabilityZones: &[]*string{
				awscdk.Fn_Select(jsii.Number(0), awscdk.Fn_GetAzs(nil)),
				awscdk.Fn_Select(jsii.Number(1), awscdk.Fn_GetAzs(nil)),
				awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_GetAzs(nil)),
			},
			NatGateways: jsii.Number(float64(c.NatGateways)),
			SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
				{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
				{Name: jsii.String("private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)},
			},
			GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
				"S3":       {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
				"DynamoDB": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()},
			},
			RestrictDefaultSecurityGroup: jsii.Bool(false),
		})
		vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
			TrafficType: awsec2.FlowLogTrafficType_REJECT,
		})
		n.Vpc = vpc
	}

	n.Clients = awsec2.NewSecurityGroup(n.Construct, jsii.String("Clients"), &awsec2.SecurityGroupProps{
		Vpc:              n.Vpc,
		Description:      jsii.String("Kafki clients: members may reach the broker client listener"),
		AllowAllOutbound: jsii.Bool(true),
	})
	n.Brokers = awsec2.NewSecurityGroup(n.Construct, jsii.String("Brokers"), &awsec2.SecurityGroupProps{
		Vpc:              n.Vpc,
		Description:      jsii.String("Kafki brokers: client listener from clients and brokers only"), // unchanged: a new description replaces the group
		AllowAllOutbound: jsii.Bool(false),
	})
	kafka := awsec2.Port_Tcp(jsii.Number(float64(c.ClientListenerPort())))
	n.Brokers.AddIngressRule(n.Clients, kafka, jsii.String("Kafka clients"), nil)
	if c.ClientCidr != "" {
		n.Brokers.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(c.ClientCidr)), kafka, jsii.String("Kafka clients by CIDR (-c clientCidr)"), nil)
	}
	if c.Secure() {
		inter := awsec2.Port_Tcp(jsii.Number(InterBrokerPort))
		n.Brokers.AddIngressRule(n.Brokers, kafka, jsii.String("kafki-triggers on the broker instances (SASL_SSL client listener)"), nil)
		n.Brokers.AddIngressRule(n.Brokers, inter, jsii.String("replica fetchers and controller traffic of other brokers (SASL_SSL inter-broker listener)"), nil)
		n.Brokers.AddEgressRule(n.Brokers, kafka, jsii.String("kafki-triggers to the client listener of other brokers"), nil)
		n.Brokers.AddEgressRule(n.Brokers, inter, jsii.String("replica fetchers to the inter-broker listener of other brokers"), nil)
	} else {
		n.Brokers.AddIngressRule(n.Brokers, kafka, jsii.String("replica fetchers of other brokers"), nil)
		n.Brokers.AddEgressRule(n.Brokers, kafka, jsii.String("replica fetchers to other brokers"), nil)
	}
	n.Brokers.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("AWS APIs (S3, DynamoDB, CloudWatch, SSM, EC2) and package repositories over HTTPS"), nil)
	return n
}
