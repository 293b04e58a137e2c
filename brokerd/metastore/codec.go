package metastore

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute value constructors.
func str(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func boolean(v bool) *types.AttributeValueMemberBOOL {
	return &types.AttributeValueMemberBOOL{Value: v}
}
func nums(v []int32) *types.AttributeValueMemberL {
	l := &types.AttributeValueMemberL{Value: make([]types.AttributeValue, 0, len(v))}
	for _, x := range v {
		l.Value = append(l.Value, num(int64(x)))
	}
	return l
}

// item reads the attributes of one stored item; the first malformed
// attribute is kept in err, so a decoder reads every field and checks
// once. Every message names the item.
type item struct {
	what string // e.g. `partition item "t/3"`
	m    map[string]types.AttributeValue
	err  error
}

func (it *item) fail(attr, problem string) {
	if it.err == nil {
		it.err = fmt.Errorf("%s: %s %s", it.what, attr, problem)
	}
}

func (it *item) has(attr string) bool { _, ok := it.m[attr]; return ok }

// str returns a required string attribute.
func (it *item) str(attr string) string {
	v, ok := it.m[attr].(*types.AttributeValueMemberS)
	if !ok {
		it.fail(attr, "missing or not a string")
		return ""
	}
	return v.Value
}

// optStr returns a string attribute, "" when absent.
func (it *item) optStr(attr string) string {
	if !it.has(attr) {
		return ""
	}
	return it.str(attr)
}

// num returns a required number attribute.
func (it *item) num(attr string) int64 {
	v, ok := it.m[attr].(*types.AttributeValueMemberN)
	if !ok {
		it.fail(attr, "missing or not a number")
		return 0
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		it.fail(attr, "is not an integer")
	}
	return n
}

// optNum returns a number attribute and whether it is present.
func (it *item) optNum(attr string) (int64, bool) {
	if !it.has(attr) {
		return 0, false
	}
	return it.num(attr), true
}

// int32s returns a required list of numbers within int32.
func (it *item) int32s(attr string) []int32 {
	l, ok := it.m[attr].(*types.AttributeValueMemberL)
	if !ok {
		it.fail(attr, "missing or not a list")
		return nil
	}
	out := make([]int32, 0, len(l.Value))
	for _, e := range l.Value {
		n, ok := e.(*types.AttributeValueMemberN)
		x, err := int64(0), error(nil)
		if ok {
			x, err = strconv.ParseInt(n.Value, 10, 32)
		}
		if !ok || err != nil {
			it.fail(attr, "holds a non-int32")
			return nil
		}
		out = append(out, int32(x))
	}
	return out
}

// optBool returns a boolean attribute, false when absent.
func (it *item) optBool(attr string) bool {
	if !it.has(attr) {
		return false
	}
	v, ok := it.m[attr].(*types.AttributeValueMemberBOOL)
	if !ok {
		it.fail(attr, "is not a boolean")
		return false
	}
	return v.Value
}

// strMap returns a map of strings, empty when absent.
func (it *item) strMap(attr string) map[string]string {
	out := map[string]string{}
	if !it.has(attr) {
		return out
	}
	m, ok := it.m[attr].(*types.AttributeValueMemberM)
	if !ok {
		it.fail(attr, "is not a map")
		return out
	}
	for k, v := range m.Value {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			it.fail(attr+"."+k, "is not a string")
			continue
		}
		out[k] = s.Value
	}
	return out
}

// failure is how a write failed.
type failure int

const (
	failedOther     failure = iota // throttling, validation, the service: an error
	failedCondition                // a condition did not hold
	failedConflict                 // a concurrent transaction touched the same items
)

// classify is the one reading of a failed write (nil: failedOther is
// never asked about). A cancelled transaction failed on a condition if
// any item's did, on a conflict if the others were only conflicts or
// not evaluated, and otherwise for another reason.
func classify(err error) failure {
	var ccf *types.ConditionalCheckFailedException
	var conflict *types.TransactionConflictException
	var tce *types.TransactionCanceledException
	switch {
	case errors.As(err, &ccf):
		return failedCondition
	case errors.As(err, &conflict):
		return failedConflict
	case !errors.As(err, &tce):
		return failedOther
	}
	out := failedConflict
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			out = failedCondition
		case "", "None", "TransactionConflict":
		default:
			return failedOther
		}
	}
	return out
}

// conditionFailed reports whether a write failed because one of its
// conditions did not hold (as opposed to a transient conflict or an
// error of the service).
func conditionFailed(err error) bool { return err != nil && classify(err) == failedCondition }

// raced reports whether a write failed because of another write: a
// condition no longer held, or a concurrent transaction touched the same
// items. Reading again and replanning may succeed; any other failure
// (throttling, validation, the service) is an error.
func raced(err error) bool { return err != nil && classify(err) != failedOther }
