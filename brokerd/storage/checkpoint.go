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
)

var errBadCheckpoint = errors.New("invalid recovery point checkpoint")

func encodeRecoveryPoint(off int64) []byte {
	b := append([]byte(recoveryMagic), make([]byte, 8)...)
	binary.BigEndian.PutUint64(b[4:], uint64(off))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeRecoveryPoint(b []byte) (int64, error) {
	if len(b) != 16 || string(b[:4]) != recoveryMagic {
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
