package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Invoker is the part of the Lambda client the runner uses
// (*lambda.Client).
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// ObjectPutter is the part of the S3 client an S3 failure destination
// uses (*s3.Client).
type ObjectPutter interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Result classifies one invocation.
type Result string

// Invocation results (the label of kafki_trigger_invocations_total).
const (
	ResultOK            Result = "ok"
	ResultFunctionError Result = "function_error" // X-Amz-Function-Error
	ResultThrottled     Result = "throttled"
	ResultTimeout       Result = "timeout"
	ResultNotFound      Result = "function_not_found"
	ResultRunnerError   Result = "runner_error" // Lambda unreachable and the like: never skips
)

// countsAsAttempt reports whether the result counts against the retry limit
// (function errors, throttles, timeouts); the others retry forever.
func (r Result) countsAsAttempt() bool {
	return r == ResultFunctionError || r == ResultThrottled || r == ResultTimeout
}

// invoke calls the function synchronously and classifies the outcome.
func invoke(ctx context.Context, inv Invoker, function string, payload []byte) (Result, error) {
	out, err := inv.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: &function, Payload: payload, InvocationType: types.InvocationTypeRequestResponse,
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		var tm *types.TooManyRequestsException
		var ae smithy.APIError
		switch {
		case errors.As(err, &nf):
			return ResultNotFound, fmt.Errorf("function %s not found: %s", function, nf.ErrorMessage())
		case errors.As(err, &tm):
			return ResultThrottled, fmt.Errorf("function %s throttled: %s", function, tm.ErrorMessage())
		case errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "Throttl"):
			return ResultThrottled, fmt.Errorf("function %s throttled: %w", function, err)
		}
		return ResultRunnerError, fmt.Errorf("invoke %s: %w", function, err)
	}
	if out.FunctionError != nil {
		msg := functionErrorMessage(out.Payload)
		if strings.Contains(msg, "Timedout") || strings.Contains(msg, "timed out") {
			return ResultTimeout, fmt.Errorf("function %s timed out: %s", function, msg)
		}
		return ResultFunctionError, fmt.Errorf("function %s: %s: %s", function, *out.FunctionError, msg)
	}
	return ResultOK, nil
}

// functionErrorMessage extracts Lambda's {"errorMessage","errorType"}.
func functionErrorMessage(p []byte) string {
	var e struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if json.Unmarshal(p, &e) == nil && (e.Message != "" || e.Type != "") {
		if e.Type != "" {
			return e.Type + ": " + e.Message
		}
		return e.Message
	}
	s := string(p)
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// Backoff is exponential backoff with jitter: attempt n waits a random
// time in [d/2, d] with d = min(Base * 2^n, Max).
type Backoff struct{ Base, Max time.Duration }

// Delay is the wait before retry n (0-based).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Base
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
