package controllers

import (
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// retryCeiling caps the backoff of an object whose reconcile keeps failing (a signer's backend
// down, the API server refusing). controller-runtime's default grows to 1000 s, so a CSR could
// wait a quarter of an hour after its backend came back; five minutes bounds that wait while
// still backing off from a failure that recurs.
const retryCeiling = 5 * time.Minute

// queueOptions are the options of every controller. controller-runtime's priority queue, on by
// default in v0.24, was seen to deadlock when a manager stopped with many CSRs queued (its
// ready-items loop blocks sending to workers that have exited while holding the queue's lock),
// which would hang a rollout; the classic rate-limited queue stops cleanly. Its rate limiter is
// controller-runtime's default but for the ceiling.
func queueOptions(concurrency int) controller.Options {
	return controller.Options{
		MaxConcurrentReconciles: concurrency,
		UsePriorityQueue:        ptr.To(false),
		RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, retryCeiling),
			&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
		),
	}
}

// requestsWhere requests the cluster-scoped objects among items that keep accepts; a nil keep
// accepts them all.
func requestsWhere[T any, PT interface {
	*T
	client.Object
}](items []T, keep func(PT) bool) []reconcile.Request {
	var reqs []reconcile.Request
	for i := range items {
		if obj := PT(&items[i]); keep == nil || keep(obj) {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: obj.GetName()}})
		}
	}
	return reqs
}
