package stack

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Suppress records, next to each construct, why a cdk-nag AwsSolutions
// finding does not apply. Every suppression names its reason; the tests
// fail on any finding not listed here.
func Suppress(k *Kafki, c Config) {
	s := func(scope any, children bool, pairs ...string) {
		var list []*cdknag.NagPackSuppression
		for i := 0; i+1 < len(pairs); i += 2 {
			list = append(list, &cdknag.NagPackSuppression{Id: jsii.String(pairs[i]), Reason: jsii.String(pairs[i+1])})
		}
		cdknag.NagSuppressions_AddResourceSuppressions(scope, &list, jsii.Bool(children))
	}
	s(k.Storage.Bucket, true,
		"AwsSolutions-S1", "The tier bucket is written and read only by the broker role; S3 server access logs would add an object per request on the hot upload path. CloudTrail data events are the audit option.")
	for _, b := range k.Consumers.Buckets {
		s(b, true,
			"AwsSolutions-S1", "The archive bucket is written only by the s3-archiver function's role, one object per batch; server access logs would double its requests. CloudTrail data events are the audit option.")
	}
	for _, r := range k.Consumers.Writers {
		s(r, true,
			"AwsSolutions-IAM5", "CDK's grantPut on the archive bucket: objects are named by topic, partition and first offset (bucket/*), and s3:Abort* lets the SDK abort its own multipart uploads.")
	}
	s(k.Brokers.Role, true,
		"AwsSolutions-IAM5", "Wildcards are only: objects of the tier bucket (segment keys are not known in advance), EC2 Describe* and cloudwatch:PutMetricData (no resource-level permissions; the latter narrowed by a namespace condition), instance/* for attaching the broker's own interface (the instance id changes with every replacement), and CDK's asset-read grant (s3:GetObject*/List* on the asset bucket).",
		"AwsSolutions-IAM4", "AmazonSSMManagedInstanceCore is AWS's maintained policy for Session Manager and Run Command, which infra/scripts/roll.sh uses to stop a broker cleanly.")
	sec := k.Brokers.Security
	for _, secret := range []any{sec.InterBroker, sec.Consumer} {
		s(secret, true,
			"AwsSolutions-SMG4", "A SCRAM login: automatic rotation would change the password under running brokers and consumers, which hold one credential per user; rotation is a documented rolling procedure (infra/README.md, Rotation).")
	}
	if sec.CertsRole != nil {
		s(sec.CertsRole, true,
			"AwsSolutions-IAM5", "The broker-certs custom resource creates its secrets by name under <stack>/tls or <stack>/tls-<generation> (secret:<stack>/tls*): their ARNs end in a random suffix Secrets Manager picks at creation, so no narrower ARN exists before, and after a CA generation change it deletes the previous prefix's; and logs:PutLogEvents on its own log group's streams.")
	}
	s(k.Observability.Alarms, true,
		"AwsSolutions-SNS2", "Alarm notifications carry alarm names and states only; SSE with a customer key would also need a key policy for CloudWatch.")
	for _, fn := range k.Consumers.Functions {
		s(fn, true,
			"AwsSolutions-IAM5", "The function's role may only write to its own log group (logs:PutLogEvents on its streams, a wildcard by nature).")
	}
	s(k.Consumers.RunnerRole, true,
		"AwsSolutions-IAM5", "lambda:InvokeFunction on the declared functions and their versions/aliases (ARN:*), CDK's grantInvoke.")
	for _, g := range k.Brokers.Groups {
		s(g, true,
			"AwsSolutions-AS3", "Broker replacements are watched through the dashboard's NotReporting alarms, which page; ASG notifications would duplicate them.")
	}
	if k.Network != nil {
		s(k.Network.Construct, true,
			"AwsSolutions-EC23", "Only the HTTPS egress rule is 0.0.0.0/0 (AWS APIs); ingress is the client listener from the client and broker groups.")
	}
}
