package cli

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// formatHelp documents the --format template, shown in consume --help.
const formatHelp = `Output template for each record (like kcat's -f): %t topic, %p partition, ` +
	`%o offset, %k key, %v value, %T timestamp (ms since the epoch), %h headers (k:v,k:v), ` +
	`%% a percent sign; \n, \t, \r and \\ escapes. A null key or value prints as nothing.`

// field is one element of a compiled template.
type field uint8

const (
	fieldLiteral field = iota
	fieldTopic
	fieldPartition
	fieldOffset
	fieldKey
	fieldValue
	fieldTimestamp
	fieldHeaders
)

// segment is a literal string or a record field.
type segment struct {
	field   field
	literal string // set when field == fieldLiteral
}

// recordFormat renders records to bytes following a template. It is
// immutable once compiled and safe for concurrent use.
type recordFormat struct {
	segs []segment
}

// compileFormat parses a --format template. Unknown directives and escapes
// are errors so a typo shows up at once instead of in the output.
func compileFormat(tmpl string) (recordFormat, error) {
	var (
		segs []segment
		lit  []byte
	)
	flush := func() {
		if len(lit) > 0 {
			segs = append(segs, segment{field: fieldLiteral, literal: string(lit)})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		switch c {
		case '%':
			if i+1 == len(tmpl) {
				return recordFormat{}, fmt.Errorf("template ends with a lone %%")
			}
			i++
			f, ok := directiveFields[tmpl[i]]
			switch {
			case tmpl[i] == '%':
				lit = append(lit, '%')
			case ok:
				flush()
				segs = append(segs, segment{field: f})
			default:
				return recordFormat{}, fmt.Errorf("unknown directive %%%c (want %%t %%p %%o %%k %%v %%T %%h or %%%%)", tmpl[i])
			}
		case '\\':
			if i+1 == len(tmpl) {
				return recordFormat{}, fmt.Errorf(`template ends with a lone \`)
			}
			i++
			b, ok := escapeBytes[tmpl[i]]
			if !ok {
				return recordFormat{}, fmt.Errorf(`unknown escape \%c (want \n \t \r or \\)`, tmpl[i])
			}
			lit = append(lit, b)
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return recordFormat{segs: segs}, nil
}

var directiveFields = map[byte]field{
	't': fieldTopic,
	'p': fieldPartition,
	'o': fieldOffset,
	'k': fieldKey,
	'v': fieldValue,
	'T': fieldTimestamp,
	'h': fieldHeaders,
}

var escapeBytes = map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', '\\': '\\'}

// keyValueFormat is the output of --print-key: key, separator, value,
// newline. It is built directly (not via a template) so a separator may
// contain '%' or '\' without being interpreted.
func keyValueFormat(sep string) recordFormat {
	return recordFormat{segs: []segment{
		{field: fieldKey},
		{field: fieldLiteral, literal: sep},
		{field: fieldValue},
		{field: fieldLiteral, literal: "\n"},
	}}
}

// valueOnlyFormat is the default output: the value and a newline, like
// kafka-console-consumer.
func valueOnlyFormat() recordFormat {
	return recordFormat{segs: []segment{{field: fieldValue}, {field: fieldLiteral, literal: "\n"}}}
}

// appendRecord appends the rendering of r to dst and returns the result.
func (f recordFormat) appendRecord(dst []byte, r *kgo.Record) []byte {
	for _, s := range f.segs {
		switch s.field {
		case fieldLiteral:
			dst = append(dst, s.literal...)
		case fieldTopic:
			dst = append(dst, r.Topic...)
		case fieldPartition:
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case fieldOffset:
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case fieldKey:
			dst = append(dst, r.Key...)
		case fieldValue:
			dst = append(dst, r.Value...)
		case fieldTimestamp:
			dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
		case fieldHeaders:
			for i, h := range r.Headers {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, h.Key...)
				dst = append(dst, ':')
				dst = append(dst, h.Value...)
			}
		}
	}
	return dst
}
