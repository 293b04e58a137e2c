package txn

import (
	"errors"
	"reflect"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	m := Metadata{
		ID: "app-1", ProducerID: 7, Epoch: 3, LastEpoch: NoEpoch, PrevProducerID: 5, NextProducerID: NoProducerID,
		TimeoutMs: 60000, State: Ongoing, Partitions: []Partition{{"a", 0}, {"a", 2}, {"b", 1}},
		StartMs: 100, LastUpdateMs: 150, TV: TV2,
	}
	got, deleted, err := Decode(Key(m.ID), m.Value())
	if err != nil || deleted {
		t.Fatalf("Decode: %v deleted %v", err, deleted)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
	}
	// A complete transaction keeps no partitions.
	m.State, m.Partitions = CompleteCommit, nil
	if got, _, err := Decode(Key(m.ID), m.Value()); err != nil || got.State != CompleteCommit || got.Partitions != nil {
		t.Fatalf("complete: %+v %v", got, err)
	}
	// Dead is a tombstone.
	m.State = Dead
	if m.Value() != nil {
		t.Fatal("Dead has a value")
	}
	if got, deleted, err := Decode(Key(m.ID), nil); err != nil || !deleted || got.ID != m.ID {
		t.Fatalf("tombstone: %+v %v %v", got, deleted, err)
	}
}

func TestDecodeRefusesWhatItCannotRead(t *testing.T) {
	good := Metadata{ID: "x", ProducerID: 1, TimeoutMs: 1000, State: Empty, StartMs: -1, PrevProducerID: NoProducerID, NextProducerID: NoProducerID}
	val := good.Value()
	newer := append([]byte{0, 9}, val[2:]...)
	badState := good
	badState.State = 42
	noStart := good
	noStart.State, noStart.Partitions = Ongoing, []Partition{{"a", 0}}
	for name, kv := range map[string][2][]byte{
		"empty key":           {nil, val},
		"key version 1":       {append([]byte{0, 1}, Key("x")[2:]...), val},
		"empty id":            {Key(""), val},
		"truncated value":     {Key("x"), val[:len(val)-3]},
		"one-byte value":      {Key("x"), val[:1]},
		"newer value version": {Key("x"), newer},
		"unknown state":       {Key("x"), badState.Value()},
		"open without start":  {Key("x"), noStart.Value()},
	} {
		if _, _, err := Decode(kv[0], kv[1]); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %v, want ErrBadRecord", name, err)
		}
	}
}

// Decoding never panics, and what it accepts encodes back to the same
// metadata.
func FuzzDecode(f *testing.F) {
	m := Metadata{ID: "t", ProducerID: 9, Epoch: 1, TimeoutMs: 10, State: PrepareCommit, StartMs: 1, Partitions: []Partition{{"a", 0}}}
	f.Add(Key("t"), m.Value())
	f.Add(Key("t"), []byte(nil))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		got, deleted, err := Decode(key, value)
		if err != nil || deleted {
			return
		}
		again, _, err := Decode(Key(got.ID), got.Value())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", got, again, err)
		}
	})
}
