package triggers

import (
	"context"
	"fmt"
	"os"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// AWSClients are the Lambda and S3 clients of the AWS default
// configuration (credentials chain, region, AWS_ENDPOINT_URL). SDK-level
// retries are off: the runner's own backoff decides, so a throttle is
// counted and reported once per attempt.
func AWSClients(ctx context.Context) (*lambda.Client, *s3.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRetryMaxAttempts(1))
	if err != nil {
		return nil, nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return lambda.NewFromConfig(cfg), s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL") != ""
	}), nil
}
