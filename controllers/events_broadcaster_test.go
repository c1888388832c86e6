package controllers

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// stuckSink is an API server that answers nothing until released, then accepts every event.
type stuckSink struct {
	released chan struct{}
	mu       sync.Mutex
	created  map[string]bool
}

func (s *stuckSink) Create(e *corev1.Event) (*corev1.Event, error) {
	<-s.released
	s.mu.Lock()
	defer s.mu.Unlock()
	s.created[e.InvolvedObject.Name] = true
	return e, nil
}
func (s *stuckSink) Update(e *corev1.Event) (*corev1.Event, error) { return s.Create(e) }
func (s *stuckSink) Patch(e *corev1.Event, _ []byte) (*corev1.Event, error) {
	return s.Create(e)
}

func (s *stuckSink) delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.created)
}

// Under a flood the API server cannot keep up with, every event is either delivered or counted as
// dropped: none is lost without a trace.
func TestEveryDroppedEventIsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	b, err := NewEventBroadcaster(reg, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	sink := &stuckSink{released: make(chan struct{}), created: map[string]bool{}}
	b.StartRecordingToSink(sink)
	recorder := b.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "test"})

	// One CSR per event, so that client-go's correlator neither aggregates nor rate-limits them.
	const n = 1500
	for i := range n {
		c := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("csr-%d", i), UID: "u"}}
		recorder.Eventf(c, corev1.EventTypeNormal, ReasonWaitingApproval, "event %d", i)
		if i%100 == 99 {
			time.Sleep(10 * time.Millisecond) // let client-go's own distribution keep up, as it does in a reconcile
		}
	}
	dropped := func() int { return int(testutil.ToFloat64(b.dropped)) }
	deadline := time.Now().Add(10 * time.Second)
	for dropped() < n-eventQueueLength-1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(sink.released)
	for sink.delivered()+dropped() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := sink.delivered() + dropped(); got != n {
		t.Errorf("%d events delivered and %d counted as dropped, want %d in all", sink.delivered(), dropped(), n)
	}
	if dropped() == 0 || sink.delivered() < eventQueueLength {
		t.Errorf("%d delivered, %d dropped: want a full queue delivered and the rest counted", sink.delivered(), dropped())
	}
	if got := testutil.CollectAndCount(reg, "signerpolicy_events_dropped_total"); got != 1 {
		t.Errorf("the registry has %d signerpolicy_events_dropped_total series, want 1", got)
	}
}

// controller-runtime starts recording to the API server once per recorder provider, and it has
// two; each event is still written once.
func TestEventsAreWrittenOnceThoughRecordingStartsTwice(t *testing.T) {
	b, err := NewEventBroadcaster(prometheus.NewRegistry(), logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	first := &stuckSink{released: make(chan struct{}), created: map[string]bool{}}
	second := &stuckSink{released: make(chan struct{}), created: map[string]bool{}}
	close(first.released)
	close(second.released)
	b.StartRecordingToSink(first)
	b.StartRecordingToSink(second)
	c := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "csr", UID: "u"}}
	b.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "test"}).Event(c, corev1.EventTypeNormal, ReasonWaitingApproval, "once")
	deadline := time.Now().Add(5 * time.Second)
	for first.delivered() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // time for a second writer, were there one
	if first.delivered() != 1 || second.delivered() != 0 {
		t.Errorf("the first sink got %d events and the second %d, want 1 and 0", first.delivered(), second.delivered())
	}
}
