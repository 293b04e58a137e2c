package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/kcodec"
)

// parseConfigs parses repeated --config k=v values into the map kadm expects.
// The key is everything before the first '='; the value (which may contain
// '=' and ',' as in "cleanup.policy=compact,delete") is the rest. A key given
// twice is an error rather than a silent last-wins.
func parseConfigs(kvs []string) (map[string]*string, error) {
	out := make(map[string]*string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("--config %q: want key=value", kv)
		}
		if _, dup := out[k]; dup {
			return nil, usagef("--config %q given more than once", k)
		}
		out[k] = &v
	}
	return out, nil
}

// parseConfigKeys validates repeated --delete-config names.
func parseConfigKeys(keys []string) ([]string, error) {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" || strings.Contains(k, "=") {
			return nil, usagef("--delete-config %q: want a config name", k)
		}
		out = append(out, k)
	}
	return out, nil
}

// parseHeaders parses repeated --header k:v values into record headers. The
// key is everything before the first ':', so values may contain ':'.
func parseHeaders(kvs []string) ([]kgo.RecordHeader, error) {
	out := make([]kgo.RecordHeader, 0, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, ":")
		if !ok || k == "" {
			return nil, usagef("--header %q: want key:value", kv)
		}
		out = append(out, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return out, nil
}

// compressionNames lists the accepted --compression values in help order.
var compressionNames = strings.Join(kcodec.Names, ", ")

// parseCompression maps a --compression value to a franz-go codec.
func parseCompression(s string) (kgo.CompressionCodec, error) {
	c, err := kcodec.Codec(s)
	if err != nil {
		return c, usagef("--compression %q: want one of %s", s, compressionNames)
	}
	return c, nil
}

// acksMode is a parsed --acks value.
type acksMode struct {
	acks kgo.Acks
	all  bool // acks=all (-1); idempotence is only possible then
}

// parseAcks maps a --acks value (-1, 0, 1 or all) to franz-go's Acks.
func parseAcks(s string) (acksMode, error) {
	switch strings.ToLower(s) {
	case "-1", "all":
		return acksMode{acks: kgo.AllISRAcks(), all: true}, nil
	case "0":
		return acksMode{acks: kgo.NoAck()}, nil
	case "1":
		return acksMode{acks: kgo.LeaderAck()}, nil
	}
	return acksMode{}, usagef("--acks %q: want -1, 0, 1 or all", s)
}

// startOffset is a parsed --offset value: earliest, latest, or an exact
// offset.
type startOffset struct {
	exact int64 // valid when kind == offsetExact
	kind  offsetKind
}

type offsetKind int

const (
	offsetLatest offsetKind = iota
	offsetEarliest
	offsetExact
)

// parseOffset parses --offset: "earliest", "latest" or a non-negative
// number.
func parseOffset(s string) (startOffset, error) {
	switch strings.ToLower(s) {
	case "earliest", "beginning":
		return startOffset{kind: offsetEarliest}, nil
	case "latest", "end":
		return startOffset{kind: offsetLatest}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return startOffset{}, usagef("--offset %q: want earliest, latest or a non-negative offset", s)
	}
	return startOffset{kind: offsetExact, exact: n}, nil
}

// kgoOffset converts the parsed offset to the franz-go form.
func (o startOffset) kgoOffset() kgo.Offset {
	switch o.kind {
	case offsetEarliest:
		return kgo.NewOffset().AtStart()
	case offsetExact:
		return kgo.NewOffset().At(o.exact)
	default:
		return kgo.NewOffset().AtEnd()
	}
}

func (o startOffset) String() string {
	switch o.kind {
	case offsetEarliest:
		return "earliest"
	case offsetExact:
		return strconv.FormatInt(o.exact, 10)
	default:
		return "latest"
	}
}

// unescape interprets the backslash escapes people type on a shell for
// separators and templates: \n, \t, \r, \0 and \\. Any other escape is an
// error, so a typo does not silently print a backslash.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("trailing backslash")
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case '\\':
			b.WriteByte('\\')
		default:
			return "", fmt.Errorf(`unknown escape \%c (want \n, \t, \r, \0 or \\)`, s[i])
		}
	}
	return b.String(), nil
}
