package metastore

import (
	"testing"

	"github.com/kafki/kafki/lambdas/triggers"
	"github.com/kafki/kafki/lambdas/triggers/storetest"
)

func TestTriggerItems(t *testing.T) {
	client, table := newTable(t)
	storetest.Run(t, New(client, table), func() triggers.Store { return New(client, table) })
}
