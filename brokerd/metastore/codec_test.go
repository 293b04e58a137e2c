package metastore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The one classification of a failed write: a condition that did not
// hold, a concurrent transaction, or anything else (an error to report).
func TestClassify(t *testing.T) {
	cancelled := func(codes ...string) error {
		var rs []types.CancellationReason
		for _, c := range codes {
			rs = append(rs, types.CancellationReason{Code: aws.String(c)})
		}
		return fmt.Errorf("write: %w", &types.TransactionCanceledException{CancellationReasons: rs})
	}
	for _, tc := range []struct {
		name string
		err  error
		want failure
	}{
		{"conditional put", &types.ConditionalCheckFailedException{}, failedCondition},
		{"transaction conflict", &types.TransactionConflictException{}, failedConflict},
		{"condition in a transaction", cancelled("None", "ConditionalCheckFailed"), failedCondition},
		{"conflict in a transaction", cancelled("TransactionConflict", "None"), failedConflict},
		{"throttled transaction", cancelled("None", "ThrottlingError"), failedOther},
		{"validation", cancelled("ValidationError"), failedOther},
		{"service error", errors.New("connection refused"), failedOther},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if raced(nil) || conditionFailed(nil) {
		t.Error("a nil error classified as a failure")
	}
}
