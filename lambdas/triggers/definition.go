package triggers

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Limits and defaults, as AWS's self-managed Kafka event source mapping.
const (
	DefaultBatchSize      = 100
	MaxBatchSize          = 10_000
	MaxPayloadBytes       = 6 * 1024 * 1024 // Lambda's synchronous invocation payload limit
	DefaultBatchingWindow = 500 * time.Millisecond
	MaxBatchingWindow     = 300 * time.Second
	MaxRetryLimit         = 10_000
	MaxFilters            = 5
	minRecordAge          = 60 * time.Second
	maxRecordAge          = 7 * 24 * time.Hour
)

// Starting positions (used only when the group has no committed offset).
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
)

// ErrInvalid marks a definition that fails validation.
var ErrInvalid = errors.New("invalid trigger")

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Definition is one trigger: topics mapped to a function. Its JSON form is
// what the metadata store keeps (opaque to it) and what the admin API
// carries.
type Definition struct {
	ID       string   `json:"id"`
	Function string   `json:"function"` // name or ARN
	Topics   []string `json:"topics"`
	// BatchSize is the most records in one invocation (1..10,000).
	BatchSize int `json:"batch_size"`
	// MaxPayloadBytes caps an invocation's payload (at most 6 MB).
	MaxPayloadBytes int `json:"max_payload_bytes"`
	// BatchingWindow is how long a partition's batch waits to fill.
	BatchingWindow Millis `json:"batching_window_ms"`
	// StartingPosition applies only when the group has no committed
	// offset; StartingTimestamp goes with AT_TIMESTAMP.
	StartingPosition  string    `json:"starting_position"`
	StartingTimestamp time.Time `json:"starting_timestamp,omitzero"`
	// GroupID is the consumer group; empty: derived from ID.
	GroupID string `json:"group_id,omitempty"`
	// MaxRetryAttempts: -1 retries until the record expires (AWS's
	// default), 0 no retry.
	MaxRetryAttempts int `json:"max_retry_attempts"`
	// MaxRecordAge: records older than this are not invoked but sent to
	// the failure destination; 0 never expires.
	MaxRecordAge Millis `json:"max_record_age_ms,omitempty"`
	// OnFailure is "kafka://<topic>" (a dead-letter topic on this
	// cluster), "s3://<bucket>" or "arn:aws:s3:::<bucket>"; empty: a batch
	// out of retries is dropped, as AWS does without a destination.
	OnFailure     string   `json:"on_failure,omitempty"`
	BisectOnError bool     `json:"bisect_on_error,omitempty"`
	Filters       []string `json:"filters,omitempty"` // Lambda event-filtering patterns, ORed
	Enabled       bool     `json:"enabled"`
	// Source is "kafki" (kafki triggers create) or "lambda-esm" (picked
	// up from the Lambda API).
	Source string `json:"source,omitempty"`
	// SourceAccessConfigurations are an event source mapping's, as AWS
	// names them: the secrets the consumer logs in with
	// (SASL_SCRAM_512_AUTH, SERVER_ROOT_CA_CERTIFICATE, ...). They record
	// what a mapping of the same trigger would use; kafki-triggers itself
	// logs in with its own --security.protocol, --sasl.* and
	// --ssl.truststore.location (the CDK stack writes both from the same
	// secrets).
	SourceAccessConfigurations []SourceAccess `json:"source_access_configurations,omitempty"`
}

// SourceAccess is one of Lambda's source access configurations.
type SourceAccess struct {
	Type string `json:"Type"`
	URI  string `json:"URI"`
}

// sourceAccessTypes are the types a self-managed Kafka mapping takes.
var sourceAccessTypes = map[string]bool{
	"BASIC_AUTH": true, "SASL_SCRAM_256_AUTH": true, "SASL_SCRAM_512_AUTH": true,
	"CLIENT_CERTIFICATE_TLS_AUTH": true, "SERVER_ROOT_CA_CERTIFICATE": true,
	"VPC_SUBNET": true, "VPC_SECURITY_GROUP": true,
}

// Millis is a duration stored as integer milliseconds.
type Millis int64

// D is the duration.
func (m Millis) D() time.Duration { return time.Duration(m) * time.Millisecond }

// MillisOf converts a duration.
func MillisOf(d time.Duration) Millis { return Millis(d / time.Millisecond) }

// NewDefinition returns a definition with AWS's defaults.
func NewDefinition(id, function string, topics ...string) Definition {
	return Definition{
		ID: id, Function: function, Topics: topics,
		BatchSize: DefaultBatchSize, MaxPayloadBytes: MaxPayloadBytes,
		BatchingWindow: MillisOf(DefaultBatchingWindow), StartingPosition: Latest,
		MaxRetryAttempts: -1, Enabled: true, Source: "kafki",
	}
}

// Group is the consumer group of the trigger: GroupID, or one derived
// from the id (AWS's ESM uses its UUID).
func (d *Definition) Group() string {
	if d.GroupID != "" {
		return d.GroupID
	}
	return "kafki-trigger-" + d.ID
}

// DecodeDefinition parses a stored or submitted definition; fields it
// lacks take NewDefinition's defaults.
func DecodeDefinition(raw []byte) (Definition, error) {
	d := NewDefinition("", "")
	d.Topics = nil
	if err := json.Unmarshal(raw, &d); err != nil {
		return Definition{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return d, nil
}

// Encode is the stored form.
func (d *Definition) Encode() []byte {
	b, _ := json.Marshal(d) // plain data: cannot fail
	return b
}

// Validate checks d; the error is one line naming the setting.
func (d *Definition) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: "+f, append([]any{ErrInvalid}, a...)...) }
	switch {
	case !idPattern.MatchString(d.ID):
		return bad("id %q: 1-100 of A-Z a-z 0-9 . _ -, starting with a letter or digit", d.ID)
	case strings.TrimSpace(d.Function) == "":
		return bad("function is required")
	case len(d.Topics) == 0:
		return bad("at least one topic is required")
	case d.BatchSize < 1 || d.BatchSize > MaxBatchSize:
		return bad("batch size %d: must be between 1 and %d", d.BatchSize, MaxBatchSize)
	case d.MaxPayloadBytes < 1 || d.MaxPayloadBytes > MaxPayloadBytes:
		return bad("max payload %d bytes: must be between 1 and %d", d.MaxPayloadBytes, MaxPayloadBytes)
	case d.BatchingWindow < 0 || d.BatchingWindow.D() > MaxBatchingWindow:
		return bad("batching window %v: must be between 0 and %v", d.BatchingWindow.D(), MaxBatchingWindow)
	case d.MaxRetryAttempts < -1 || d.MaxRetryAttempts > MaxRetryLimit:
		return bad("max retry attempts %d: must be -1 (until expiry) or 0..%d", d.MaxRetryAttempts, MaxRetryLimit)
	case d.MaxRecordAge != 0 && (d.MaxRecordAge.D() < minRecordAge || d.MaxRecordAge.D() > maxRecordAge):
		return bad("max record age %v: must be 0 (never) or between %v and %v", d.MaxRecordAge.D(), minRecordAge, maxRecordAge)
	case len(d.Filters) > MaxFilters:
		return bad("%d filters: at most %d", len(d.Filters), MaxFilters)
	}
	for _, t := range d.Topics {
		if t == "" || strings.ContainsAny(t, "/# ") {
			return bad("topic %q is not a valid name", t)
		}
	}
	switch d.StartingPosition {
	case TrimHorizon, Latest:
	case AtTimestamp:
		if d.StartingTimestamp.IsZero() {
			return bad("starting position AT_TIMESTAMP needs a starting timestamp")
		}
	default:
		return bad("starting position %q: must be TRIM_HORIZON, LATEST or AT_TIMESTAMP", d.StartingPosition)
	}
	if d.OnFailure != "" {
		if _, err := ParseDestination(d.OnFailure); err != nil {
			return bad("%v", err)
		}
	}
	for i, f := range d.Filters {
		if _, err := ParsePattern(f); err != nil {
			return bad("filter %d: %v", i+1, err)
		}
	}
	for _, a := range d.SourceAccessConfigurations {
		if !sourceAccessTypes[a.Type] || strings.TrimSpace(a.URI) == "" {
			return bad("source access configuration %q %q: a self-managed Kafka type (SASL_SCRAM_512_AUTH, SERVER_ROOT_CA_CERTIFICATE, ...) and a URI", a.Type, a.URI)
		}
	}
	return nil
}

// Destination is a parsed on-failure destination.
type Destination struct {
	Topic  string // Kafka dead-letter topic
	Bucket string // S3 bucket
}

// ParseDestination reads "kafka://topic", "s3://bucket" or an S3 bucket ARN.
func ParseDestination(s string) (Destination, error) {
	switch {
	case strings.HasPrefix(s, "kafka://") && len(s) > len("kafka://"):
		return Destination{Topic: strings.TrimPrefix(s, "kafka://")}, nil
	case strings.HasPrefix(s, "s3://") && len(s) > len("s3://"):
		return Destination{Bucket: strings.TrimSuffix(strings.TrimPrefix(s, "s3://"), "/")}, nil
	case strings.HasPrefix(s, "arn:aws:s3:::") && len(s) > len("arn:aws:s3:::"):
		return Destination{Bucket: strings.TrimPrefix(s, "arn:aws:s3:::")}, nil
	}
	return Destination{}, fmt.Errorf("on-failure destination %q: must be kafka://<topic>, s3://<bucket> or arn:aws:s3:::<bucket>", s)
}

// Trigger states.
const (
	StateRunning  = "running"
	StateDisabled = "disabled"
	StateFailed   = "failed"
	StateStopped  = "stopped"
)
