package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
)

// Names of the log's bookkeeping files.
const (
	// recoveryPointFile holds an offset below which every batch, its
	// segment's indexes and the producer snapshot of that segment are
	// known fsynced: "KRP1" | offset int64 | crc32c uint32.
	recoveryPointFile = "recovery-point"
	// cleanShutdownFile exists only between a completed Close and the
	// next Open.
	cleanShutdownFile = "clean-shutdown"
	recoveryMagic     = "KRP1"
	// logStartFile holds the logical log start (see AdvanceLogStart):
	// "KLS1" | offset int64 | crc32c uint32, the same layout as the
	// recovery point. Absent until the start first moves inside a
	// segment; stale (below the first segment) after retention passed it.
	logStartFile  = "log-start-offset"
	logStartMagic = "KLS1"
)

var errBadCheckpoint = errors.New("invalid offset checkpoint")

func encodeRecoveryPoint(off int64) []byte { return encodeOffsetFile(recoveryMagic, off) }

func decodeRecoveryPoint(b []byte) (int64, error) { return decodeOffsetFile(recoveryMagic, b) }

// encodeOffsetFile is the format of the one-offset checkpoint files:
// magic | offset int64 | crc32c of both.
func encodeOffsetFile(magic string, off int64) []byte {
	b := append([]byte(magic), make([]byte, 8)...)
	binary.BigEndian.PutUint64(b[4:], uint64(off))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeOffsetFile(magic string, b []byte) (int64, error) {
	if len(b) != 16 || string(b[:4]) != magic {
		return 0, fmt.Errorf("%w: %d bytes", errBadCheckpoint, len(b))
	}
	if crc32.Checksum(b[:12], castagnoli) != binary.BigEndian.Uint32(b[12:]) {
		return 0, fmt.Errorf("%w: crc mismatch", errBadCheckpoint)
	}
	off := int64(binary.BigEndian.Uint64(b[4:]))
	if off < 0 {
		return 0, fmt.Errorf("%w: negative offset %d", errBadCheckpoint, off)
	}
	return off, nil
}

func writeRecoveryPoint(fsys FS, dir string, off int64) error {
	return writeFileAtomic(fsys, dir, recoveryPointFile, encodeRecoveryPoint(off))
}

func snapshotName(off int64) string {
	return filepath.Base(segmentPath("", off, snapshotSuffix))
}
