package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	toolswatch "k8s.io/client-go/tools/watch"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// runLabel marks the CSRs of one run, so its watch sees only them.
const runLabel = "bench.signerpolicy.dev/run"

// issue creates c.N CSRs from the requesters, c.Concurrency at a time, and returns for each the
// time from just before its create call to the watch event that carried its certificate.
func issue(ctx context.Context, env *harness.Env, f *fixture, c config, run string) ([]time.Duration, error) {
	requests := make([][]byte, c.N)
	for i := range requests {
		var err error
		if requests[i], err = f.request(i); err != nil {
			return nil, err
		}
	}
	w, err := watchRun(ctx, env, run)
	if err != nil {
		return nil, err
	}
	defer w.Stop()

	var mu sync.Mutex
	created := make(map[string]time.Time, c.N)
	errs := make(chan error, 1)
	go func() {
		errs <- forEach(c.N, c.Concurrency, func(i int) error {
			csr := &certificatesv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", run, i), Labels: map[string]string{runLabel: run}, Annotations: f.annotations},
				Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: f.signerName, Request: requests[i],
					Usages: []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"}},
			}
			start := time.Now()
			mu.Lock()
			created[csr.Name] = start
			mu.Unlock()
			return f.requesters[i%len(f.requesters)].Create(ctx, csr)
		})
	}()
	return collect(ctx, w, c.N, &mu, created, errs)
}

// collect waits for every CSR's certificate. The deadline only stops a hung run.
func collect(ctx context.Context, w watch.Interface, n int, mu *sync.Mutex, created map[string]time.Time, errs chan error) ([]time.Duration, error) {
	done := make(map[string]time.Duration, n)
	timeout := time.After(30 * time.Minute)
	for len(done) < n {
		select {
		case err := <-errs:
			if err != nil {
				return nil, err
			}
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, fmt.Errorf("watch closed after %d of %d certificates", len(done), n)
			}
			csr, isCSR := ev.Object.(*certificatesv1.CertificateSigningRequest)
			if !isCSR || len(csr.Status.Certificate) == 0 {
				continue
			}
			if _, seen := done[csr.Name]; !seen {
				mu.Lock()
				start := created[csr.Name]
				mu.Unlock()
				done[csr.Name] = time.Since(start)
			}
		case <-timeout:
			return nil, fmt.Errorf("%d of %d certificates after 30 minutes", len(done), n)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([]time.Duration, 0, n)
	for _, d := range done {
		out = append(out, d)
	}
	return out, nil
}

// watchRun watches the run's CSRs, resuming from the last event seen when the API server closes
// the watch (it does, under load, to a watcher it finds too slow).
func watchRun(ctx context.Context, env *harness.Env, run string) (watch.Interface, error) {
	cs, err := unthrottled(env.Config)
	if err != nil {
		return nil, err
	}
	csrs := cs.CertificatesV1().CertificateSigningRequests()
	selector := runLabel + "=" + run
	list, err := csrs.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return toolswatch.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return csrs.Watch(ctx, opts)
		},
	})
}

func unthrottled(cfg *rest.Config) (*kubernetes.Clientset, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	return kubernetes.NewForConfig(cfg)
}

// forEach runs fn for 0..n-1 on `workers` goroutines and returns the first error.
func forEach(n, workers int, fn func(i int) error) error {
	next := make(chan int)
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

func percentiles(ds []time.Duration) (p50, p90, p99, maxMs float64) {
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(q*float64(len(ds))+0.5) - 1
		return float64(ds[min(max(i, 0), len(ds)-1)].Microseconds()) / 1000
	}
	return at(0.50), at(0.90), at(0.99), at(1)
}
