package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
)

// leaderEpochFile is the leader-epoch checkpoint, after Kafka's
// leader-epoch-checkpoint: a version line, a count line, then one
// "epoch startOffset" line per entry.
const leaderEpochFile = "leader-epoch-checkpoint"

// epochEntry says that leader epoch Epoch wrote its first batch at
// StartOffset.
type epochEntry struct {
	Epoch       int32
	StartOffset int64
}

// epochCache is the partition's leader-epoch history (KIP-101): which
// epoch wrote from which offset. A follower asks the leader where its last
// epoch ends (OffsetForLeaderEpoch) and truncates anything beyond: the
// only safe way to find where two replicas' logs diverge.
//
// Invariant: epochs and start offsets strictly increase.
type epochCache struct {
	entries []epochEntry
}

// assign records that epoch starts at offset; returns whether it changed
// anything. Older or equal epochs are ignored: a batch stamped by an
// older leader never rewrites history.
func (c *epochCache) assign(epoch int32, offset int64) bool {
	if epoch < 0 {
		return false
	}
	if n := len(c.entries); n > 0 {
		last := c.entries[n-1]
		if epoch <= last.Epoch {
			return false
		}
		if offset < last.StartOffset {
			// A new epoch cannot start before the previous one did;
			// keep the history consistent.
			offset = last.StartOffset
		}
	}
	c.entries = append(c.entries, epochEntry{epoch, offset})
	return true
}

// latest is the newest epoch, -1 if none.
func (c *epochCache) latest() int32 {
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].Epoch
}

// endOffsetFor answers OffsetForLeaderEpoch: the largest epoch <= epoch
// that this log knows, and the offset where it ended (the start of the
// next epoch, or logEnd for the newest). An epoch older than all history
// gives (-1, -1), Kafka's UNDEFINED_EPOCH_OFFSET.
func (c *epochCache) endOffsetFor(epoch int32, logEnd int64) (int32, int64) {
	for i := len(c.entries) - 1; i >= 0; i-- {
		if c.entries[i].Epoch <= epoch {
			if i == len(c.entries)-1 {
				return c.entries[i].Epoch, logEnd
			}
			return c.entries[i].Epoch, c.entries[i+1].StartOffset
		}
	}
	return -1, -1
}

// truncateFromEnd drops epochs that start at or after offset (the log was
// cut there).
func (c *epochCache) truncateFromEnd(offset int64) bool {
	n := len(c.entries)
	for n > 0 && c.entries[n-1].StartOffset >= offset {
		n--
	}
	changed := n != len(c.entries)
	c.entries = c.entries[:n]
	return changed
}

func (c *epochCache) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(c.entries))
	for _, e := range c.entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return b.Bytes()
}

var errBadEpochFile = errors.New("damaged leader-epoch checkpoint")

func decodeEpochs(raw []byte) (epochCache, error) {
	var c epochCache
	sc := bufio.NewScanner(bytes.NewReader(raw))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	if v, ok := line(); !ok || v != "0" {
		return c, fmt.Errorf("%w: version %q", errBadEpochFile, v)
	}
	cnt, ok := line()
	n, err := strconv.Atoi(cnt)
	if !ok || err != nil || n < 0 || n > 1<<20 {
		return c, fmt.Errorf("%w: count %q", errBadEpochFile, cnt)
	}
	for i := 0; i < n; i++ {
		l, ok := line()
		var e epochEntry
		if _, err := fmt.Sscanf(l, "%d %d", &e.Epoch, &e.StartOffset); !ok || err != nil {
			return c, fmt.Errorf("%w: entry %d %q", errBadEpochFile, i, l)
		}
		if k := len(c.entries); e.Epoch < 0 || e.StartOffset < 0 || (k > 0 && (e.Epoch <= c.entries[k-1].Epoch || e.StartOffset < c.entries[k-1].StartOffset)) {
			return c, fmt.Errorf("%w: entry %d out of order", errBadEpochFile, i)
		}
		c.entries = append(c.entries, e)
	}
	if _, more := line(); more {
		return c, fmt.Errorf("%w: trailing data", errBadEpochFile)
	}
	return c, nil
}

// loadEpochs reads the checkpoint, or rebuilds the history from the
// leader epochs stamped on the batches when it is missing or damaged, then
// drops epochs beyond the (recovered) log end.
func (l *Log) loadEpochs() error {
	raw, err := readWholeFile(l.fs, filepath.Join(l.dir, leaderEpochFile))
	if err == nil {
		if l.epochs, err = decodeEpochs(raw); err == nil {
			if l.epochs.truncateFromEnd(l.logEnd) {
				return l.writeEpochs()
			}
			return nil
		}
		l.logger.Warn("storage: rebuilding leader-epoch history", "reason", err)
	}
	l.epochs = epochCache{}
	for _, s := range l.segments {
		sc := newScanner(s.log, 0, s.size, false)
		for {
			h, _, err := sc.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%w: rebuild leader epochs from segment %d: %w", ErrStorage, s.base, err)
			}
			l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
		}
	}
	return l.writeEpochs()
}

func (l *Log) writeEpochs() error {
	if err := writeFileAtomic(l.fs, l.dir, leaderEpochFile, l.epochs.encode()); err != nil {
		return fmt.Errorf("%w: write leader-epoch checkpoint: %w", ErrStorage, err)
	}
	return nil
}

// LatestEpoch is the newest leader epoch that wrote to this log, -1 if
// none.
func (l *Log) LatestEpoch() int32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.latest()
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101/KIP-279): the
// largest epoch <= epoch in this log's history and the offset where it
// ended; (-1, -1) when epoch precedes all history.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.logEnd)
}

// LeaderEpochsUpTo returns the leader-epoch history of the records below
// end in the checkpoint file's format: what a segment ending at end needs
// to answer OffsetForLeaderEpoch on its own once it is tiered.
func (l *Log) LeaderEpochsUpTo(end int64) []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var c epochCache
	for _, e := range l.epochs.entries {
		if e.StartOffset < end {
			c.entries = append(c.entries, e)
		}
	}
	return c.encode()
}
