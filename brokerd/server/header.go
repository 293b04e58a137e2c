package server

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// requestHeader is a decoded Kafka request header (v1 or v2).
type requestHeader struct {
	key           int16
	version       int16
	correlationID int32
	clientID      string
}

var errBadHeader = errors.New("malformed request header")

// parseHeader decodes the header at the start of frame (the bytes after the
// size prefix) and returns it with the body. flexible says whether the
// header is v2 (has tagged fields); it is only known once key and version
// are, so it is a callback.
func parseHeader(frame []byte, flexible func(key, version int16) bool) (requestHeader, []byte, error) {
	var h requestHeader
	if len(frame) < 10 {
		return h, nil, fmt.Errorf("%w: %d bytes", errBadHeader, len(frame))
	}
	h.key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.correlationID = int32(binary.BigEndian.Uint32(frame[4:]))
	n := int16(binary.BigEndian.Uint16(frame[8:]))
	rest := frame[10:]
	if n >= 0 {
		if int(n) > len(rest) {
			return h, nil, fmt.Errorf("%w: client id of %d bytes, %d left", errBadHeader, n, len(rest))
		}
		h.clientID = string(rest[:n])
		rest = rest[n:]
	} else if n != -1 {
		return h, nil, fmt.Errorf("%w: client id length %d", errBadHeader, n)
	}
	if flexible(h.key, h.version) {
		var err error
		rest, err = skipTags(rest)
		if err != nil {
			return h, nil, err
		}
	}
	return h, rest, nil
}

// skipTags skips a tagged-field section (KIP-482): a count, then per field
// a tag, a size and that many bytes.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("%w: tagged field count", errBadHeader)
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, fmt.Errorf("%w: tag", errBadHeader)
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: tagged field size", errBadHeader)
		}
		b = b[n+int(size):]
	}
	return b, nil
}
