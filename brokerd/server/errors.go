package server

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/storage"
	"github.com/kafki/kafki/brokerd/topics"
)

const (
	produceKey            = 0
	fetchKey              = 1
	apiVersionsKey        = 18
	errUnsupportedVersion = 35 // UNSUPPORTED_VERSION
)

// errorCode maps an error of the layers below to the Kafka error code a
// real broker returns for the same condition.
func errorCode(err error) int16 {
	var kafkaErr *kerr.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &kafkaErr):
		// The group coordinator's errors are Kafka's own.
		return kafkaErr.Code
	case errors.Is(err, batch.ErrUnsupportedCompression):
		return kerr.UnsupportedCompressionType.Code
	case errors.Is(err, batch.ErrInvalidRecord), errors.Is(err, batch.ErrMagic), errors.Is(err, topics.ErrTransactional),
		errors.Is(err, topics.ErrBatchCount):
		return kerr.InvalidRecord.Code
	case errors.Is(err, batch.ErrCorrupt), errors.Is(err, batch.ErrTruncated), errors.Is(err, batch.ErrTooLarge):
		return kerr.CorruptMessage.Code
	case errors.Is(err, topics.ErrMessageTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, storage.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, storage.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, storage.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, storage.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, storage.ErrStorage):
		return kerr.KafkaStorageError.Code
	case errors.Is(err, storage.ErrClosed), errors.Is(err, topics.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, topics.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, topics.ErrInvalidName):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, topics.ErrInvalidPartition):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, topics.ErrInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, topics.ErrInvalidReplicationFactor):
		return kerr.InvalidReplicationFactor.Code
	case errors.Is(err, topics.ErrNotLeader):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, topics.ErrFencedLeaderEpoch):
		return kerr.FencedLeaderEpoch.Code
	case errors.Is(err, topics.ErrUnknownLeaderEpoch):
		return kerr.UnknownLeaderEpoch.Code
	case errors.Is(err, topics.ErrNotEnoughReplicasAfterAppend):
		return kerr.NotEnoughReplicasAfterAppend.Code
	case errors.Is(err, topics.ErrNotEnoughReplicas):
		return kerr.NotEnoughReplicas.Code
	case errors.Is(err, topics.ErrCommitTimeout):
		return kerr.RequestTimedOut.Code
	}
	return kerr.UnknownServerError.Code
}

// errMsg is err's text for the ErrorMessage fields, nil for no error.
func errMsg(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
