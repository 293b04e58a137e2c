package groups

import "github.com/twmb/franz-go/pkg/kerr"

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
)
