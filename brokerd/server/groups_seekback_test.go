package server_test

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A group member that has committed can seek back and re-read the same
// bytes: in the application (kgo SetOffsets on the live member), and as a
// new member of the group after an admin offset reset (kadm, like
// kafka-consumer-groups --reset-offsets).
func TestGroupMemberSeeksBackAndRereadsSameBytes(t *testing.T) {
	b := startGroupBroker(t)
	addr := b.Addr()
	createTopic(t, newClient(t, addr), "seek", 2, nil)
	produceValues(t, producer(t, addr, "seek"), "seek", "s", 40)
	ctx := ctxT(t)

	// read polls cl until want records came, keyed by partition/offset.
	read := func(cl *kgo.Client, want int) map[pos][]byte {
		t.Helper()
		got := map[pos][]byte{}
		for len(got) < want {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("read %d of %d: %v", len(got), want, err)
			}
			fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				k := pos{r.Partition, r.Offset}
				if _, dup := got[k]; dup {
					t.Fatalf("record %d@%d delivered twice in one pass", r.Partition, r.Offset)
				}
				got[k] = bytes.Clone(r.Value)
			})
		}
		return got
	}
	same := func(what string, got, first map[pos][]byte, from map[int32]int64) {
		t.Helper()
		want := 0
		for k, v := range first {
			if k.o < from[k.p] {
				continue
			}
			want++
			if g, ok := got[k]; !ok || !bytes.Equal(g, v) {
				t.Errorf("%s: record %d@%d: %q, first read %q", what, k.p, k.o, g, v)
			}
		}
		for k := range got {
			if k.o < from[k.p] {
				t.Errorf("%s: record %d@%d is before the seek position %d", what, k.p, k.o, from[k.p])
			}
		}
		if len(got) != want {
			t.Errorf("%s: %d records, want %d", what, len(got), want)
		}
	}

	m1 := newClient(t, addr, append(memberOpts("seekers", "seek"), kgo.DisableAutoCommit())...)
	first := read(m1, 40)
	if err := m1.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(newClient(t, addr))
	ends := map[int32]int64{}
	for k := range first {
		ends[k.p] = max(ends[k.p], k.o+1)
	}
	offs, err := adm.FetchOffsets(ctx, "seekers")
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range ends {
		if o, ok := offs.Lookup("seek", p); !ok || o.At != end {
			t.Fatalf("committed %+v for partition %d, want %d", o, p, end)
		}
	}

	// The application seeks back on the live member.
	back := map[int32]int64{0: 2, 1: 5}
	m1.SetOffsets(map[string]map[int32]kgo.EpochOffset{"seek": {0: {Epoch: -1, Offset: back[0]}, 1: {Epoch: -1, Offset: back[1]}}})
	want := 0
	for k := range first {
		if k.o >= back[k.p] {
			want++
		}
	}
	same("after SetOffsets", read(m1, want), first, back)
	m1.Close() // leaves the group: it is Empty, so offsets can be reset

	// An operator resets the group's offsets; a new member starts there.
	reset := map[int32]int64{0: 1, 1: 3}
	toCommit := kadm.Offsets{}
	for p, o := range reset {
		toCommit.AddOffset("seek", p, o, -1)
	}
	resp, err := adm.CommitOffsets(ctx, "seekers", toCommit)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("reset offsets: %v", err)
	}
	m2 := newClient(t, addr, append(memberOpts("seekers", "seek"), kgo.DisableAutoCommit())...)
	want = 0
	for k := range first {
		if k.o >= reset[k.p] {
			want++
		}
	}
	same("new member after reset", read(m2, want), first, reset)
}
