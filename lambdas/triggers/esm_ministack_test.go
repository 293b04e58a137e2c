package triggers_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/kafki/kafki/lambdas/triggers"
)

// MiniStack (1.5.x) refuses self-managed Kafka event source mappings (it
// requires an EventSourceArn), so there is nothing to pick up from it;
// ListEventSourceMappings works and ESMSource reads it without error.
// When this test fails because the create succeeded, the emulator stores
// such mappings: test the pick-up end to end and update lambdas/README.md.
func TestMiniStackSelfManagedKafkaMappings(t *testing.T) {
	e := setup(t)
	e.createFunction(t, "esm-target", "recorder", map[string]string{"RECORDER_TABLE": "none"})
	_, err := e.lambda.CreateEventSourceMapping(context.Background(), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("esm-target"), Topics: []string{"orders"}, StartingPosition: ltypes.EventSourcePositionTrimHorizon,
		SelfManagedEventSource: &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": {e.broker}}},
	})
	if err == nil || !strings.Contains(err.Error(), "ventSourceArn") {
		t.Fatalf("MiniStack accepted a self-managed Kafka mapping (err %v): test the pick-up", err)
	}
	src := &triggers.ESMSource{Client: e.lambda, Brokers: []string{e.broker}}
	got, err := src.Triggers(context.Background())
	if err != nil || len(got) != 0 {
		t.Fatalf("ESMSource: %v, %v", got, err)
	}
}
