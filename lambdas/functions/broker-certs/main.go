// Command broker-certs is the CloudFormation custom resource (provided.al2023)
// that creates the Kafki stack's TLS material in AWS Secrets Manager: a
// private CA, the brokers' certificate for their DNS names, and the CA
// alone for clients. See package lambdas/brokercerts for the layout.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kafki/kafki/lambdas/brokercerts"
	"github.com/kafki/kafki/lambdas/functions/internal/awsenv"
)

func main() {
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		panic(err)
	}
	h := &brokercerts.Handler{SM: secretsmanager.NewFromConfig(cfg)}
	lambda.Start(cfn.LambdaWrap(h.Handle))
}
