package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// A reconcile that keeps failing backs off exponentially, but never past the ceiling.
func TestRetriesBackOffUpToTheCeiling(t *testing.T) {
	limiter := queueOptions(1).RateLimiter
	req := reconcile.Request{NamespacedName: types.NamespacedName{Name: "csr"}}
	var last time.Duration
	for range 40 {
		last = limiter.When(req)
	}
	if last != retryCeiling {
		t.Errorf("after 40 failures the next retry waits %s, want the ceiling %s", last, retryCeiling)
	}
	limiter.Forget(req)
	if first := limiter.When(req); first > 10*time.Millisecond {
		t.Errorf("after success the first retry waits %s, want milliseconds again", first)
	}
}
