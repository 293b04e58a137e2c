package loadtest

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// compressionNames are the accepted --compression values, as Kafka's
// compression.type spells them, in help order.
var compressionNames = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// validCompression reports whether name is one of compressionNames.
func validCompression(name string) bool { return slices.Contains(compressionNames, name) }

// mustCodec maps a validated --compression value to franz-go's codec.
// Unlike kgo's default (snappy), none is the default here, so a run
// measures the broker, not the codec.
func mustCodec(name string) kgo.CompressionCodec {
	switch strings.ToLower(name) {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}
