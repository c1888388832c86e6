package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	toolswatch "k8s.io/client-go/tools/watch"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// runLabel marks the CSRs of one run, so its watch sees only them.
const runLabel = "bench.signerpolicy.dev/run"

// submission says how the creators make the CSRs of a run.
type submission struct {
	run        string
	signerName string
	// creatorApproves: the creator approves each CSR right after creating it, and its latency
	// counts from the approval; otherwise from just before the create call.
	creatorApproves bool
}

// submit makes CSR i of a run and returns the moment its latency counts from.
func (f *fixture) submit(ctx context.Context, s submission, i int, request []byte) (time.Time, *certificatesv1.CertificateSigningRequest, error) {
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: csrName(s.run, i), Labels: map[string]string{runLabel: s.run}, Annotations: f.annotations},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: s.signerName, Request: request,
			Usages: []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"}},
	}
	mark := time.Now()
	if err := f.requesters[i%len(f.requesters)].Create(ctx, csr); err != nil {
		return mark, nil, err
	}
	if !s.creatorApproves {
		return mark, csr, nil
	}
	if err := approve(ctx, f.approver, csr); err != nil {
		return mark, nil, err
	}
	return time.Now(), csr, nil
}

func csrName(run string, i int) string { return fmt.Sprintf("%s-%d", run, i) }

// approve approves csr the way `kubectl certificate approve` does, again on a conflict: with a
// Manual policy the operator may have written the CSR's Waiting condition first.
func approve(ctx context.Context, as client.Client, csr *certificatesv1.CertificateSigningRequest) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		now := metav1.Now()
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "BenchApprove", LastUpdateTime: now, LastTransitionTime: now,
		})
		err := as.SubResource("approval").Update(ctx, csr)
		if apierrors.IsConflict(err) {
			fresh := &certificatesv1.CertificateSigningRequest{}
			if getErr := as.Get(ctx, client.ObjectKeyFromObject(csr), fresh); getErr != nil {
				return getErr
			}
			*csr = *fresh
		}
		return err
	})
}

// writeCertificate is the ceiling's status write, with the operator's rights. Any parseable
// certificate will do.
func (f *fixture) writeCertificate(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	csr.Status.Certificate = f.ceilingCert
	return f.writer.SubResource("status").Update(ctx, csr)
}

// timing is when each CSR of a run got its certificate.
type timing struct {
	latencies   []time.Duration
	start       time.Time
	first, last time.Time
}

// streamRate is certificates per second from the first create call to the last certificate.
func (t timing) streamRate() float64 {
	return float64(len(t.latencies)) / t.last.Sub(t.start).Seconds()
}

// drainRate is certificates per second from the first certificate to the last: a backlog's
// drain, without the time the operator takes to start.
func (t timing) drainRate() float64 {
	return float64(len(t.latencies)-1) / t.last.Sub(t.first).Seconds()
}

// stream submits c.N CSRs, c.Concurrency at a time, and times each from the mark submit returns
// to the watch event that carried its certificate. Each of stages (the ceiling's stand-ins for
// the operator's controllers) is a further pool of c.Concurrency workers that each CSR passes
// through after its creator.
func stream(ctx context.Context, cl *cluster, f *fixture, c config, s submission, stages ...func(*certificatesv1.CertificateSigningRequest) error) (timing, error) {
	requests, err := f.requests(c.N)
	if err != nil {
		return timing{}, err
	}
	var mu sync.Mutex
	marks := make(map[string]time.Time, c.N)
	start := time.Now()
	issued, err := watchCertificates(ctx, cl, s.run, c.N, func() error {
		return pipeline(c.N, c.Concurrency, func(i int) (*certificatesv1.CertificateSigningRequest, error) {
			mark, csr, err := f.submit(ctx, s, i, requests[i])
			mu.Lock()
			marks[csrName(s.run, i)] = mark
			mu.Unlock()
			return csr, err
		}, stages...)
	})
	if err != nil {
		return timing{}, err
	}
	return timed(issued, start, func(name string) time.Time { return marks[name] }), nil
}

// submitBacklog creates and approves c.N CSRs as the creators do and returns them as approved.
func submitBacklog(ctx context.Context, f *fixture, c config, run, signerName string) ([]*certificatesv1.CertificateSigningRequest, error) {
	s := submission{run: run, signerName: signerName, creatorApproves: true}
	requests, err := f.requests(c.N)
	if err != nil {
		return nil, err
	}
	csrs := make([]*certificatesv1.CertificateSigningRequest, c.N)
	err = forEach(c.N, c.Concurrency, func(i int) error {
		_, csr, err := f.submit(ctx, s, i, requests[i])
		csrs[i] = csr
		return err
	})
	return csrs, err
}

// drain runs start, which makes a backlog of n approved CSRs issue, and times each certificate
// from the moment start was called.
func drain(ctx context.Context, cl *cluster, run string, n int, start func() error) (timing, error) {
	var began time.Time
	issued, err := watchCertificates(ctx, cl, run, n, func() error {
		began = time.Now()
		return start()
	})
	if err != nil {
		return timing{}, err
	}
	return timed(issued, began, func(string) time.Time { return began }), nil
}

func timed(issued map[string]time.Time, start time.Time, markOf func(name string) time.Time) timing {
	t := timing{start: start}
	for name, at := range issued {
		t.latencies = append(t.latencies, at.Sub(markOf(name)))
		if t.first.IsZero() || at.Before(t.first) {
			t.first = at
		}
		if at.After(t.last) {
			t.last = at
		}
	}
	return t
}

func (f *fixture) requests(n int) ([][]byte, error) {
	requests := make([][]byte, n)
	for i := range requests {
		var err error
		if requests[i], err = f.request(i); err != nil {
			return nil, err
		}
	}
	return requests, nil
}

// watchCertificates runs act while it watches the run's CSRs, and returns when each of n got
// its certificate and act has returned. The watch is running before act starts, so no event is
// missed, and it is read as events come, so their times are the arrival times.
func watchCertificates(ctx context.Context, cl *cluster, run string, n int, act func() error) (map[string]time.Time, error) {
	w, err := watchRun(ctx, cl, run)
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	errs := make(chan error, 1)
	go func() { errs <- act() }()
	issued := make(map[string]time.Time, n)
	acted := false
	timeout := time.After(30 * time.Minute) // only stops a hung run
	for len(issued) < n || !acted {
		select {
		case err := <-errs:
			if err != nil {
				return nil, err
			}
			acted = true
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, fmt.Errorf("watch closed after %d of %d certificates", len(issued), n)
			}
			csr, isCSR := ev.Object.(*certificatesv1.CertificateSigningRequest)
			if !isCSR || len(csr.Status.Certificate) == 0 {
				continue
			}
			if _, seen := issued[csr.Name]; !seen {
				issued[csr.Name] = time.Now()
			}
		case <-timeout:
			return nil, fmt.Errorf("%d of %d certificates after 30 minutes", len(issued), n)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return issued, nil
}

// watchRun watches the run's CSRs, resuming from the last event seen when the API server closes
// the watch (it does, under load, to a watcher it finds too slow).
func watchRun(ctx context.Context, cl *cluster, run string) (watch.Interface, error) {
	cs, err := unthrottled(cl.config)
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

// pipeline makes n CSRs with first on `workers` goroutines and passes each through stages in
// order, each stage on `workers` goroutines of its own, and returns the first error.
func pipeline(n, workers int, first func(i int) (*certificatesv1.CertificateSigningRequest, error), stages ...func(*certificatesv1.CertificateSigningRequest) error) error {
	var errs []error
	var mu sync.Mutex
	record := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	made := make(chan *certificatesv1.CertificateSigningRequest, n)
	go func() {
		record(forEach(n, workers, func(i int) error {
			csr, err := first(i)
			if err == nil {
				made <- csr
			}
			return err
		}))
		close(made)
	}()
	out := made
	for _, stage := range stages {
		in, next := out, make(chan *certificatesv1.CertificateSigningRequest, n)
		go func() {
			var wg sync.WaitGroup
			for range max(workers, 1) {
				wg.Go(func() {
					for csr := range in {
						if err := stage(csr); err != nil {
							record(err)
							continue
						}
						next <- csr
					}
				})
			}
			wg.Wait()
			close(next)
		}()
		out = next
	}
	for range out {
	}
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}

// latency is a run's distribution of times to certificate, in milliseconds.
type latency struct {
	P50 float64 `json:"p50Millis"`
	P90 float64 `json:"p90Millis"`
	P99 float64 `json:"p99Millis"`
	Max float64 `json:"maxMillis"`
}

func percentiles(ds []time.Duration) latency {
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(q*float64(len(ds))+0.5) - 1
		return float64(ds[min(max(i, 0), len(ds)-1)].Microseconds()) / 1000
	}
	return latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: at(1)}
}
