package batch

import "fmt"

// Scan reads a log's batches from offset start to end through read (the
// whole batches from the one holding an offset, as storage.Log.Read
// returns them) and calls fn with each batch and its parsed header, in
// offset order. It is how coordinators replay an internal topic
// (__consumer_offsets, __transaction_state) into memory. A header that
// does not parse ends the scan with an error (the log's framing is
// broken); fn decides what to do with a batch whose records do not
// decode, and an error from fn ends the scan.
func Scan(read func(offset int64) ([]byte, error), start, end int64, fn func(h *Header, raw []byte) error) error {
	for off := start; off < end; {
		b, err := read(off)
		if err != nil {
			return fmt.Errorf("read at offset %d: %w", off, err)
		}
		if len(b) == 0 {
			return nil
		}
		next := off
		it := NewIter(b)
		for it.Next() {
			raw := it.Batch()
			h, err := ParseHeader(raw)
			if err != nil {
				return fmt.Errorf("batch at offset %d: %w", next, err)
			}
			next = h.LastOffset() + 1
			if err := fn(&h, raw); err != nil {
				return err
			}
		}
		if next <= off {
			if err := it.Err(); err != nil {
				return fmt.Errorf("batches at offset %d: %w", off, err)
			}
			// A read that returned nothing past off: stop rather than
			// spin (the log changed under the scan).
			return nil
		}
		off = next
	}
	return nil
}
