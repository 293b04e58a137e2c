package topics

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLen is Kafka's limit on topic names (255 minus room for the
// partition suffix of directory names).
const MaxNameLen = 249

// ErrInvalidName wraps topic-name validation failures (INVALID_TOPIC_EXCEPTION).
var ErrInvalidName = errors.New("invalid topic name")

// ValidateName applies Kafka's topic name rules.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is reserved", ErrInvalidName, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d characters, at most %d", ErrInvalidName, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: %q may contain only ASCII letters, digits, '.', '_' and '-'", ErrInvalidName, name)
		}
	}
	return nil
}

// collisionKey is the name with '.' mapped to '_': Kafka refuses two topics
// that differ only there, since metric names would collide.
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }
