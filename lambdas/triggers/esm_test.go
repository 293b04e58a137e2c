package triggers

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestFromESM(t *testing.T) {
	mod := time.UnixMilli(1765000000000)
	m := types.EventSourceMappingConfiguration{
		UUID: aws.String("a1b2"), FunctionArn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:sink"),
		Topics: []string{"orders"}, BatchSize: aws.Int32(250), MaximumBatchingWindowInSeconds: aws.Int32(2),
		StartingPosition: types.EventSourcePositionTrimHorizon, State: aws.String("Enabled"), LastModified: &mod,
		SelfManagedEventSource:            &types.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": {"10.0.0.1:9092", "kafki:9092"}}},
		SelfManagedKafkaEventSourceConfig: &types.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("orders-sink")},
		DestinationConfig:                 &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("kafka://orders-dlq")}},
		FilterCriteria:                    &types.FilterCriteria{Filters: []types.Filter{{Pattern: aws.String(`{"value":{"kind":["order"]}}`)}}},
		SourceAccessConfigurations: []types.SourceAccessConfiguration{
			{Type: types.SourceAccessTypeSaslScram512Auth, URI: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:login-AbCdEf")},
			{Type: types.SourceAccessTypeServerRootCaCertificate, URI: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:ca-AbCdEf")},
		},
	}
	tr, ok := FromESM(m, []string{"kafki:9092"})
	if !ok {
		t.Fatal("mapping of this cluster not picked up")
	}
	d := tr.Definition
	if d.ID != "esm-a1b2" || d.GroupID != "orders-sink" || d.BatchSize != 250 || d.BatchingWindow.D() != 2*time.Second ||
		d.StartingPosition != TrimHorizon || d.OnFailure != "kafka://orders-dlq" || len(d.Filters) != 1 || !d.Enabled ||
		d.Source != SourceESM || tr.Version != mod.UnixMilli() || d.Function != *m.FunctionArn {
		t.Fatalf("converted %+v", tr)
	}
	if len(d.SourceAccessConfigurations) != 2 || d.SourceAccessConfigurations[0].Type != "SASL_SCRAM_512_AUTH" ||
		d.SourceAccessConfigurations[1].Type != "SERVER_ROOT_CA_CERTIFICATE" || !strings.HasSuffix(d.SourceAccessConfigurations[1].URI, ":secret:ca-AbCdEf") {
		t.Fatalf("source access configurations %+v", d.SourceAccessConfigurations)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("converted definition: %v", err)
	}
	bad := d
	bad.SourceAccessConfigurations = []SourceAccess{{Type: "KERBEROS", URI: "x"}}
	if err := bad.Validate(); err == nil {
		t.Error("an unknown source access type validated")
	}
	bad.SourceAccessConfigurations = []SourceAccess{{Type: "SASL_SCRAM_512_AUTH"}}
	if err := bad.Validate(); err == nil {
		t.Error("a source access configuration without URI validated")
	}
	if _, ok := FromESM(m, []string{"other:9092"}); ok {
		t.Fatal("mapping of another cluster picked up")
	}
	m.SelfManagedKafkaEventSourceConfig = nil
	m.State = aws.String("Disabled")
	if tr, _ := FromESM(m, []string{"kafki:9092"}); tr.GroupID != "a1b2" || tr.Enabled {
		t.Fatalf("default group is the UUID, disabled stays disabled: %+v", tr.Definition)
	}
}
