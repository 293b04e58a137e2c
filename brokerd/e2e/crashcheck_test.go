package e2e

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCrashLogProblems shows that the crash test's checker catches each
// kind of damage it exists for, so a passing crash test means something.
func TestCrashLogProblems(t *testing.T) {
	rec := func(p int32, off int64, seq int) *kgo.Record {
		return &kgo.Record{Partition: p, Offset: off, Value: crashValue(seq)}
	}
	healthy := func() map[int32][]*kgo.Record {
		return map[int32][]*kgo.Record{
			0: {rec(0, 0, 0), rec(0, 1, 2), rec(0, 2, 4)},
			1: {rec(1, 0, 1), rec(1, 1, 3)},
		}
	}
	acked := map[int]ack{0: {0, 0}, 2: {0, 1}, 1: {1, 0}}

	if problems, present := crashLogProblems(healthy(), acked); len(problems) != 0 || present != 5 {
		t.Fatalf("healthy log: problems %q, present %d; want none and 5", problems, present)
	}
	cases := []struct {
		name   string
		damage func(map[int32][]*kgo.Record)
		want   string
	}{
		{"gap", func(g map[int32][]*kgo.Record) { g[0][2].Offset = 3 }, "not contiguous"},
		{"duplicate", func(g map[int32][]*kgo.Record) { g[1] = append(g[1], rec(1, 2, 2)) }, "duplicated"},
		{"lost ack", func(g map[int32][]*kgo.Record) { g[0] = g[0][:1] }, "missing"},
		{"moved ack", func(g map[int32][]*kgo.Record) { g[0][1].Value = crashValue(4); g[0][2].Value = crashValue(2) }, "found"},
		{"foreign value", func(g map[int32][]*kgo.Record) { g[1][1].Value = []byte("junk") }, "not one the test produced"},
	}
	for _, tc := range cases {
		g := healthy()
		tc.damage(g)
		problems, _ := crashLogProblems(g, acked)
		if !strings.Contains(strings.Join(problems, "\n"), tc.want) {
			t.Errorf("%s: problems %q, want one mentioning %q", tc.name, problems, tc.want)
		}
	}
}
