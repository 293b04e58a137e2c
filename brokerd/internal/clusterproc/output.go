package clusterproc

import (
	"bytes"
	"io"
	"sync"
)

// notePrefix starts every line the harness itself writes to a broker's
// output.
const notePrefix = "=== clusterproc:"

// lockedWriter serialises writes of several brokers to one io.Writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes whole lines, each prefixed, to w; a partial line
// waits for its end. The broker's output and the harness's notes about it
// may arrive from different goroutines.
type prefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	partial []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	var out bytes.Buffer
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		out.WriteString(p.prefix)
		out.Write(p.partial[:i+1])
		p.partial = p.partial[i+1:]
	}
	// Keep the pending partial line in a buffer of its own, so the
	// backing array does not grow without bound.
	p.partial = append([]byte(nil), p.partial...)
	if out.Len() > 0 {
		// One Write per batch of lines, so lines of different brokers
		// never interleave within a line.
		if _, err := p.w.Write(out.Bytes()); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
