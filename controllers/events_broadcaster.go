package controllers

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/tools/record/util"
)

// Settings of the queue of events waiting for the API server, as client-go's own broadcaster has
// them: 1000 queued events, 12 tries per event, 10 s between tries.
const (
	eventQueueLength  = 1000
	eventTriesPerSink = 12
	eventRetryDelay   = 10 * time.Second
)

// EventBroadcaster is client-go's core/v1 event broadcaster with its one lossy queue made
// countable. client-go queues the events of each watcher, the one writing to the API server
// included, 1000 deep and drops what does not fit without a trace; under a flood of CSRs that
// writer, held to the client's rate limit, is the watcher that falls behind. Here the writer's
// watcher only hands each event to a queue of the same depth, which never keeps it waiting, and
// every event that queue has no room for is counted in signerpolicy_events_dropped_total. The
// events that do fit are correlated, aggregated and retried as client-go does.
type EventBroadcaster struct {
	record.EventBroadcaster
	dropped prometheus.Counter
	log     logr.Logger
	stop    context.Context
	cancel  context.CancelFunc
	// writer makes the first StartRecordingToSink the only one: controller-runtime hands a
	// broadcaster it is given to two recorder providers (the manager's, for leader election, and
	// its cluster's, for the controllers), and each starts recording to the API server, which would
	// write every event twice.
	writer sync.Once
}

// NewEventBroadcaster registers the dropped-events counter with reg (none is kept when reg is
// nil). The manager takes it as ctrl.Options.EventBroadcaster and leaves stopping it to the
// caller: Shutdown once the manager has stopped.
func NewEventBroadcaster(reg prometheus.Registerer, log logr.Logger) (*EventBroadcaster, error) {
	b := &EventBroadcaster{EventBroadcaster: record.NewBroadcaster(), log: log}
	b.stop, b.cancel = context.WithCancel(context.Background())
	if reg != nil {
		var err error
		if b.dropped, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signerpolicy_events_dropped_total",
			Help: "Kubernetes Events the operator emitted but dropped, because the queue of events waiting for the API server was full.",
		})); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// StartRecordingToSink writes events to sink through the counted queue; only the first call
// starts a writer.
func (b *EventBroadcaster) StartRecordingToSink(sink record.EventSink) watch.Interface {
	w := watch.NewEmptyWatch()
	b.writer.Do(func() {
		queue := make(chan *corev1.Event, eventQueueLength)
		w = b.StartEventWatcher(func(e *corev1.Event) {
			select {
			case queue <- e:
			default:
				if b.dropped != nil {
					b.dropped.Inc()
				}
			}
		})
		go b.writeEvents(sink, queue)
	})
	return w
}

// StartEventWatcher starts nothing once the broadcaster is shut down: the manager's recorder
// provider may start its watchers while stopping, after the caller has shut the broadcaster down.
func (b *EventBroadcaster) StartEventWatcher(handler func(*corev1.Event)) watch.Interface {
	if b.stop.Err() != nil {
		return watch.NewEmptyWatch()
	}
	return b.EventBroadcaster.StartEventWatcher(handler)
}

// Shutdown stops the writer and client-go's broadcaster.
func (b *EventBroadcaster) Shutdown() {
	b.cancel()
	b.EventBroadcaster.Shutdown()
}

func (b *EventBroadcaster) writeEvents(sink record.EventSink, queue <-chan *corev1.Event) {
	correlator := record.NewEventCorrelatorWithOptions(record.CorrelatorOptions{})
	for {
		select {
		case <-b.stop.Done():
			return
		case e := <-queue:
			b.writeEvent(sink, e, correlator)
		}
	}
}

// writeEvent is client-go's recordToSink: correlate (aggregate repeats, filter spam), then create
// or patch, retrying what the API server did not refuse outright.
func (b *EventBroadcaster) writeEvent(sink record.EventSink, event *corev1.Event, correlator *record.EventCorrelator) {
	copied := *event // the event is shared with other watchers
	result, err := correlator.EventCorrelate(&copied)
	if err != nil {
		b.log.Error(err, "correlating event")
	}
	if result.Skip {
		return
	}
	for tries := 1; ; tries++ {
		if b.sendEvent(sink, result.Event, result.Patch, correlator) {
			return
		}
		if tries >= eventTriesPerSink {
			b.log.Error(nil, "unable to write event, retry limit exceeded", "reason", event.Reason, "object", event.InvolvedObject.Name)
			return
		}
		delay := eventRetryDelay
		if tries == 1 {
			delay = time.Duration(rand.Float64() * float64(delay)) // so clients do not retry in step
		}
		select {
		case <-b.stop.Done():
			return
		case <-time.After(delay):
		}
	}
}

// sendEvent reports whether the event is done with: written, or refused for good.
func (b *EventBroadcaster) sendEvent(sink record.EventSink, event *corev1.Event, patch []byte, correlator *record.EventCorrelator) bool {
	var written *corev1.Event
	var err error
	update := event.Count > 1
	if update {
		written, err = sink.Patch(event, patch)
	}
	// A patch fails when the aggregated event has since been removed: create it anew.
	if !update || util.IsKeyNotFoundError(err) {
		event.ResourceVersion = ""
		written, err = sink.Create(event)
	}
	if err == nil {
		correlator.UpdateState(written)
		return true
	}
	switch err.(type) {
	case *restclient.RequestConstructionError, *errors.StatusError:
		// The same request would fail the same way.
		b.log.V(1).Info("event refused", "reason", event.Reason, "object", event.InvolvedObject.Name, "error", err.Error())
		return true
	}
	b.log.Error(err, "unable to write event, will retry", "reason", event.Reason, "object", event.InvolvedObject.Name)
	return false
}
