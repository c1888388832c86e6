package controllers

import (
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller"
)

// queueOptions are the options of every controller. controller-runtime's priority queue, on by
// default in v0.24, was seen to deadlock when a manager stopped with many CSRs queued (its
// ready-items loop blocks sending to workers that have exited while holding the queue's lock),
// which would hang a rollout; the classic rate-limited queue stops cleanly.
func queueOptions(concurrency int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: concurrency, UsePriorityQueue: ptr.To(false)}
}
