package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors returned by stores, wrapped with detail; test with errors.Is.
var (
	// ErrNotFound: no object has the key.
	ErrNotFound = errors.New("objstore: object not found")
	// ErrInvalidRange: the requested range starts past the object's end.
	ErrInvalidRange = errors.New("objstore: invalid range")
	// ErrInvalidKey: the key is empty, absolute or has an empty, "." or
	// ".." element.
	ErrInvalidKey = errors.New("objstore: invalid key")
	// ErrSizeMismatch: Put read a different number of bytes than the
	// size it was given.
	ErrSizeMismatch = errors.New("objstore: size mismatch")
)

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Store is an object store. Implementations are safe for concurrent use.
type Store interface {
	// Put stores exactly size bytes read from r under key, replacing any
	// previous object. It reads r to the end of size bytes; fewer or more
	// is ErrSizeMismatch and nothing is stored.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get returns length bytes of the object from off; length < 0 reads
	// to the end. A range extending past the end is cut at the end; off
	// beyond the end is ErrInvalidRange. The caller closes the reader.
	Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// Stat returns the object's size and modification time.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Delete removes the object; a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List returns every object whose key starts with prefix, sorted by
	// key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
}

// ReadRange reads length bytes at off of key into memory. Unlike Get, a
// short object is an error (io.ErrUnexpectedEOF): callers ask for ranges
// they know exist.
func ReadRange(ctx context.Context, s Store, key string, off, length int64) ([]byte, error) {
	if length == 0 {
		return nil, nil
	}
	rc, err := s.Get(ctx, key, off, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, length)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("objstore: read %s [%d,+%d): %w", key, off, length, err)
	}
	return buf, nil
}

// checkKey enforces the key rules of the package doc.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for _, el := range strings.Split(key, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	return nil
}
