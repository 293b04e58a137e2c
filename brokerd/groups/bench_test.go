package groups

import (
	"testing"
)

// BenchmarkCommit measures the coordinator's own cost of an offset
// commit (validation, encoding, append to an in-memory log, snapshots
// amortized), without the network.
func BenchmarkCommit(b *testing.B) {
	e := newEnv(b, testConfig())
	req := commitReq("g", -1, "", "t", 0, 1, "")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		req.Topics[0].Partitions[0].Offset = int64(i % 1000)
		if resp := e.c.OffsetCommit(req); resp.Topics[0].Partitions[0].ErrorCode != 0 {
			b.Fatal(resp.Topics[0].Partitions[0].ErrorCode)
		}
	}
}
