package groups

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The coordinator's errors are Kafka's error values themselves, so the
// protocol layer maps them with errors.As(err, **kerr.Error) and tests
// compare with errors.Is.
var (
	ErrInvalidGroupID        = kerr.InvalidGroupID
	ErrUnknownMemberID       = kerr.UnknownMemberID
	ErrIllegalGeneration     = kerr.IllegalGeneration
	ErrInconsistentProtocol  = kerr.InconsistentGroupProtocol
	ErrInvalidSessionTimeout = kerr.InvalidSessionTimeout
	ErrRebalanceInProgress   = kerr.RebalanceInProgress
	ErrGroupMaxSizeReached   = kerr.GroupMaxSizeReached
	ErrFencedInstanceID      = kerr.FencedInstanceID
	ErrMemberIDRequired      = kerr.MemberIDRequired
	ErrGroupIDNotFound       = kerr.GroupIDNotFound
	ErrNonEmptyGroup         = kerr.NonEmptyGroup
	ErrCoordinatorNotAvail   = kerr.CoordinatorNotAvailable
	// ErrNotCoordinator: this broker does not lead the group's partition
	// of __consumer_offsets; the client looks for the coordinator again.
	// A Log's Append wraps it when the write failed for that reason.
	ErrNotCoordinator = kerr.NotCoordinator
	// ErrLoadInProgress: this broker has just become the coordinator and
	// is loading the partition; the client retries here.
	ErrLoadInProgress = kerr.CoordinatorLoadInProgress
)

// appendErrCode is what a request answers when its write failed, as
// Kafka's coordinator maps append errors: a broker that stopped leading
// the partition answers NOT_COORDINATOR, so the client finds the new
// leader; anything else (too few in-sync replicas, replicas too slow to
// copy the write within offsets.commit.timeout.ms, a storage failure)
// answers COORDINATOR_NOT_AVAILABLE, retriable. Kafka maps
// REQUEST_TIMED_OUT to COORDINATOR_NOT_AVAILABLE too rather than passing
// it on.
func appendErrCode(err error) int16 {
	if errors.Is(err, ErrNotCoordinator) {
		return ErrNotCoordinator.Code
	}
	return ErrCoordinatorNotAvail.Code
}
