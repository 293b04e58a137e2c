package triggers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// SourceESM marks a trigger picked up from a Lambda event source mapping.
const SourceESM = "lambda-esm"

// ESMLister is the part of the Lambda client ESMSource uses.
type ESMLister interface {
	ListEventSourceMappings(ctx context.Context, in *lambda.ListEventSourceMappingsInput, opts ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error)
}

// ESMSource turns the Lambda API's self-managed Kafka event source
// mappings whose bootstrap servers name this cluster into triggers, so a
// mapping created with `aws lambda create-event-source-mapping
// --self-managed-event-source ...` (or CDK's SelfManagedKafkaEventSource)
// runs on Kafki where the Lambda service itself does not poll Kafka.
// Only emulators that store such mappings can feed it (see README).
type ESMSource struct {
	Client ESMLister
	// Brokers are the addresses that identify this cluster; a mapping
	// matches when one of its bootstrap servers is one of them.
	Brokers []string
}

// Triggers lists the matching mappings as triggers; their version is the
// mapping's LastModified, so an update restarts the trigger.
func (e *ESMSource) Triggers(ctx context.Context) ([]Trigger, error) {
	var out []Trigger
	p := lambda.NewListEventSourceMappingsPaginator(e.Client, &lambda.ListEventSourceMappingsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, fmt.Errorf("list event source mappings: %w", err)
		}
		for _, m := range page.EventSourceMappings {
			if t, ok := FromESM(m, e.Brokers); ok {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// FromESM converts one mapping, if it is a self-managed Kafka mapping of
// one of brokers.
func FromESM(m types.EventSourceMappingConfiguration, brokers []string) (Trigger, bool) {
	if m.SelfManagedEventSource == nil || m.UUID == nil || m.FunctionArn == nil {
		return Trigger{}, false
	}
	match := false
	for _, s := range m.SelfManagedEventSource.Endpoints["KAFKA_BOOTSTRAP_SERVERS"] {
		for _, b := range brokers {
			if strings.EqualFold(strings.TrimSpace(s), b) {
				match = true
			}
		}
	}
	if !match {
		return Trigger{}, false
	}
	d := NewDefinition("esm-"+*m.UUID, *m.FunctionArn, m.Topics...)
	d.Source = SourceESM
	d.GroupID = *m.UUID // AWS's default consumer group id is the mapping's UUID
	if c := m.SelfManagedKafkaEventSourceConfig; c != nil && c.ConsumerGroupId != nil && *c.ConsumerGroupId != "" {
		d.GroupID = *c.ConsumerGroupId
	}
	if m.BatchSize != nil {
		d.BatchSize = int(*m.BatchSize)
	}
	if m.MaximumBatchingWindowInSeconds != nil {
		d.BatchingWindow = MillisOf(time.Duration(*m.MaximumBatchingWindowInSeconds) * time.Second)
	}
	switch m.StartingPosition {
	case types.EventSourcePositionTrimHorizon:
		d.StartingPosition = TrimHorizon
	case types.EventSourcePositionAtTimestamp:
		d.StartingPosition = AtTimestamp
		if m.StartingPositionTimestamp != nil {
			d.StartingTimestamp = *m.StartingPositionTimestamp
		}
	}
	if m.MaximumRetryAttempts != nil {
		d.MaxRetryAttempts = int(*m.MaximumRetryAttempts)
	}
	if m.MaximumRecordAgeInSeconds != nil && *m.MaximumRecordAgeInSeconds > 0 {
		d.MaxRecordAge = MillisOf(time.Duration(*m.MaximumRecordAgeInSeconds) * time.Second)
	}
	if m.BisectBatchOnFunctionError != nil {
		d.BisectOnError = *m.BisectBatchOnFunctionError
	}
	if m.DestinationConfig != nil && m.DestinationConfig.OnFailure != nil && m.DestinationConfig.OnFailure.Destination != nil {
		d.OnFailure = *m.DestinationConfig.OnFailure.Destination
	}
	if m.FilterCriteria != nil {
		for _, f := range m.FilterCriteria.Filters {
			if f.Pattern != nil {
				d.Filters = append(d.Filters, *f.Pattern)
			}
		}
	}
	for _, a := range m.SourceAccessConfigurations {
		if a.URI != nil {
			d.SourceAccessConfigurations = append(d.SourceAccessConfigurations, SourceAccess{Type: string(a.Type), URI: *a.URI})
		}
	}
	d.Enabled = m.State == nil || (*m.State != "Disabled" && *m.State != "Disabling")
	var version int64 = 1
	if m.LastModified != nil {
		version = m.LastModified.UnixMilli()
	}
	return Trigger{Definition: d, Version: version}, d.Validate() == nil
}
