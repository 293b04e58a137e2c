package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxLineBytes bounds one stdin line so a stream without newlines cannot
// exhaust memory. It is far above Kafka's default record size limit (1 MiB):
// the broker, not the tool, decides what is too large to store.
const maxLineBytes = 64 << 20

// errLineTooLong is returned by lineReader.next for a line over its limit.
var errLineTooLong = errors.New("line too long")

// lineReader splits input into lines. Each returned line is a fresh slice
// the caller owns (records keep their value until the broker acknowledges
// them, so lines must not share a buffer).
type lineReader struct {
	r    *bufio.Reader
	max  int
	line int // number of the last line returned, starting at 1
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its "\n" or "\r\n" terminator, or
// io.EOF after the last line. A final line without a newline is still a
// line; an empty input has no lines.
func (lr *lineReader) next() ([]byte, error) {
	var line []byte
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(line)+len(chunk) > lr.max+2 { // +2: the terminator is not content
			return nil, fmt.Errorf("line %d: %w: more than %d bytes", lr.line+1, errLineTooLong, lr.max)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			lr.line++
			line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
			if len(line) > lr.max {
				return nil, fmt.Errorf("line %d: %w: more than %d bytes", lr.line, errLineTooLong, lr.max)
			}
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, io.EOF
			}
			lr.line++
			if len(line) > lr.max {
				return nil, fmt.Errorf("line %d: %w: more than %d bytes", lr.line, errLineTooLong, lr.max)
			}
			return line, nil
		default:
			return nil, fmt.Errorf("read stdin: %w", err)
		}
	}
}

// splitKey splits line at the first occurrence of sep into key and value.
// ok is false when sep does not occur.
func splitKey(line, sep []byte) (key, value []byte, ok bool) {
	return bytes.Cut(line, sep)
}
