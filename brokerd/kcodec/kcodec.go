// Package kcodec maps the compression codec names people type (as in
// Kafka's compression.type) to franz-go producer codecs, for the console
// tools and load generators.
package kcodec

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Names lists the accepted names in help order.
var Names = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// Codec returns the franz-go codec for name (case-insensitive; "" is none).
// Unlike kgo's default (snappy), no compression is the default here, so
// tools measure and show the broker, not the codec.
func Codec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown compression %q: want one of %s", name, strings.Join(Names, ", "))
}

// Valid reports whether Codec accepts name.
func Valid(name string) bool {
	_, err := Codec(name)
	return err == nil
}
