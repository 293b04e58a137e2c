package e2e

// Probes of the API behaviour Kafki relies on, against the deployed
// stack's own table and bucket: where an emulator differs from AWS's
// documented behaviour, or the two emulators differ from each other, the
// suite logs it ("emulator difference:"). Kafki's code follows AWS; a
// probe only fails the test when it cannot run at all.

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// observed holds each emulator's probe results, so the second suite of a
// run can say where the two disagree.
var observed = struct {
	sync.Mutex
	by map[kind]map[string]string
}{by: map[kind]map[string]string{}}

// probe is one behaviour: AWS's documented answer and how to get this
// emulator's.
type probe struct {
	name string
	aws  string
	run  func(t *testing.T) (string, error)
}

func (s *suite) behaviour(t *testing.T) {
	got := map[string]string{}
	for _, p := range s.probes() {
		res, err := p.run(t)
		if err != nil {
			t.Fatalf("probe %s: %v", p.name, err)
		}
		got[p.name] = res
		if res == p.aws {
			t.Logf("%s: %s, as AWS documents", p.name, res)
		} else {
			t.Logf("emulator difference: %s: %s answers %q, AWS documents %q", p.name, s.kind, res, p.aws)
		}
	}
	observed.Lock()
	defer observed.Unlock()
	observed.by[s.kind] = got
	for other, theirs := range observed.by {
		if other == s.kind {
			continue
		}
		var names []string
		for n := range got {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if theirs[n] != got[n] {
				t.Logf("emulator difference: %s: %s answers %q, %s %q", n, s.kind, got[n], other, theirs[n])
			}
		}
	}
}

func (s *suite) probes() []probe {
	db, table := s.e.dynamodb(), s.d.outputs["RecorderTable"]
	sc, bucket := s.e.s3(), s.d.outputs["ArchiveBucket"]
	item := func(pk, sk string) map[string]dtypes.AttributeValue {
		return map[string]dtypes.AttributeValue{"pk": &dtypes.AttributeValueMemberS{Value: pk}, "sk": &dtypes.AttributeValueMemberS{Value: sk}}
	}
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		if err != nil {
			return "error: " + err.Error()
		}
		return "accepted"
	}
	return []probe{
		{"DynamoDB conditional put on an existing item", "ConditionalCheckFailedException", func(t *testing.T) (string, error) {
			put := &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("probe", "cond"), ConditionExpression: aws.String("attribute_not_exists(pk)")}
			if _, err := db.PutItem(t.Context(), put); err != nil {
				return "", err
			}
			_, err := db.PutItem(t.Context(), put)
			return code(err), nil
		}},
		{"DynamoDB transaction with a failed condition", "TransactionCanceledException [None ConditionalCheckFailed], nothing written", func(t *testing.T) (string, error) {
			_, err := db.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: []dtypes.TransactWriteItem{
				{Put: &dtypes.Put{TableName: aws.String(table), Item: item("probe", "tx-new")}},
				{Put: &dtypes.Put{TableName: aws.String(table), Item: item("probe", "cond"), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
			}})
			var tc *dtypes.TransactionCanceledException
			res := code(err)
			if errors.As(err, &tc) {
				var reasons []string
				for _, r := range tc.CancellationReasons {
					reasons = append(reasons, aws.ToString(r.Code))
				}
				res = fmt.Sprintf("%s %v", res, reasons)
			}
			out, gerr := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: item("probe", "tx-new"), ConsistentRead: aws.Bool(true)})
			if gerr != nil {
				return "", gerr
			}
			if out.Item != nil {
				return res + ", first put written", nil
			}
			return res + ", nothing written", nil
		}},
		{"DynamoDB Query of 5 items with Limit 2", "pages [2 2 1], LastEvaluatedKey on the first two", func(t *testing.T) (string, error) {
			for i := range 5 {
				if _, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("paging", fmt.Sprint(i))}); err != nil {
					return "", err
				}
			}
			var pages []int
			var withKey int
			var start map[string]dtypes.AttributeValue
			for range 10 {
				out, err := db.Query(t.Context(), &dynamodb.QueryInput{TableName: aws.String(table), Limit: aws.Int32(2), ExclusiveStartKey: start,
					KeyConditionExpression: aws.String("pk = :p"), ExpressionAttributeValues: map[string]dtypes.AttributeValue{":p": &dtypes.AttributeValueMemberS{Value: "paging"}}})
				if err != nil {
					return "", err
				}
				pages = append(pages, len(out.Items))
				if out.LastEvaluatedKey == nil {
					break
				}
				withKey++
				start = out.LastEvaluatedKey
			}
			return fmt.Sprintf("pages %v, LastEvaluatedKey on the first %s", pages, map[int]string{0: "none", 1: "one", 2: "two", 3: "three"}[withKey]), nil
		}},
		{"S3 PutObject If-None-Match: * on an existing key", "PreconditionFailed", func(t *testing.T) (string, error) {
			put := func() error {
				_, err := sc.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("probe/once"), Body: strings.NewReader("0123456789"), IfNoneMatch: aws.String("*")})
				return err
			}
			if err := put(); err != nil {
				return "", err
			}
			return code(put()), nil
		}},
		{"S3 PutObject If-Match with a wrong ETag", "PreconditionFailed", func(t *testing.T) (string, error) {
			_, err := sc.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("probe/once"), Body: strings.NewReader("x"), IfMatch: aws.String(`"0123"`)})
			return code(err), nil
		}},
		{"S3 ranged GET bytes=2-5 and bytes=-3", `"2345" "789"`, func(t *testing.T) (string, error) {
			var parts []string
			for _, r := range []string{"bytes=2-5", "bytes=-3"} {
				out, err := sc.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("probe/once"), Range: aws.String(r)})
				if err != nil {
					return "", err
				}
				b, _ := io.ReadAll(out.Body)
				out.Body.Close()
				parts = append(parts, fmt.Sprintf("%q", b))
			}
			return strings.Join(parts, " "), nil
		}},
		{"Lambda invoke of a Go function whose handler returns an error", "FunctionError Unhandled", func(t *testing.T) (string, error) {
			// A key that is not base64: kafkaevent's decoding fails, so the
			// handler returns an error.
			payload := `{"eventSource":"SelfManagedKafka","records":{"t-0":[{"topic":"t","partition":0,"offset":0,"timestamp":0,"timestampType":"CREATE_TIME","key":"%%%","value":"","headers":[]}]}}`
			out, err := s.e.lambda().Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String(s.d.outputs["FunctionDynamodbSink"]), Payload: []byte(payload)})
			if err != nil {
				return code(err), nil
			}
			return "FunctionError " + aws.ToString(out.FunctionError), nil
		}},
	}
}
