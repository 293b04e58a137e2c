package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/kafki/kafki/lambdas/triggers"
)

// Lambda triggers in the broker: the trigger admin API (kafki triggers)
// on the HTTP listener, over this broker's metadata store (the embedded
// document, or the cluster's table: any broker of a cluster serves the
// same definitions), and with --triggers.enable the runner itself, as a
// Kafka client of this broker like any other.

// mountTriggerAdmin serves trigger admin on mux.
func (b *Broker) mountTriggerAdmin(mux *http.ServeMux) error {
	store, ok := b.store.(triggers.Store)
	if !ok {
		return fmt.Errorf("metadata store %T keeps no triggers", b.store)
	}
	admin := &triggers.Admin{Store: store}
	if lc, _, err := triggers.AWSClients(context.Background()); err == nil {
		admin.Functions = lc
	}
	mux.Handle(triggers.AdminPath, admin)
	mux.Handle(triggers.AdminPath+"/", admin)
	return nil
}

// startTriggers runs the trigger runner until ctx ends.
func (b *Broker) startTriggers(ctx context.Context) error {
	store, ok := b.store.(triggers.Store)
	if !ok {
		return fmt.Errorf("triggers.enable: metadata store %T keeps no triggers", b.store)
	}
	if b.adv == "" {
		return errors.New("triggers.enable: the in-process runner needs a PLAINTEXT listener (e.g. on 127.0.0.1)")
	}
	lc, s3c, err := triggers.AWSClients(ctx)
	if err != nil {
		return fmt.Errorf("triggers.enable: %w", err)
	}
	r, err := triggers.New(triggers.Options{
		Store: store, Brokers: []string{b.adv}, Lambda: lc, S3: s3c,
		Registerer: b.metrics.Registry, Log: b.log.With("component", "triggers"),
	})
	if err != nil {
		return fmt.Errorf("triggers.enable: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.stopTriggers = func() { cancel(); <-done }
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			b.log.Error("trigger runner stopped", "err", err)
		}
	}()
	return nil
}
