package acme_test

import (
	"crypto/x509"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// Twenty CSRs for one issuer, submitted at once, are all issued through Pebble, with one ACME
// account registered for all of them. The time per certificate is printed, never asserted.
// Not parallel, so the figure is not mixed with the other tests' load.
func TestTwentyConcurrentCSRs(t *testing.T) {
	const n = 20
	iss := newIssuer(t, baseSpec(peers.pebble, httpSolver()), false)
	var (
		mu        sync.Mutex
		latencies []time.Duration
	)
	start := time.Now()
	t.Run("csrs", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				r := request{tmpl: x509.CertificateRequest{DNSNames: []string{unique() + ".many.acme.test"}}}
				c, key := iss.submit(t, r)
				approved := time.Now()
				got := waitIssued(t, c)
				took := time.Since(approved)
				verifyIssued(t, got, key, iss.root(t, 0), r)
				mu.Lock()
				latencies = append(latencies, took)
				mu.Unlock()
			})
		}
	})
	wall := time.Since(start)
	if len(latencies) == n {
		slices.Sort(latencies)
		var sum time.Duration
		for _, l := range latencies {
			sum += l
		}
		t.Logf("%d concurrent CSRs issued through Pebble in %s: %s per certificate (wall clock / %d); approval-to-certificate latency mean %s, median %s, max %s",
			n, wall.Round(time.Millisecond), (wall / n).Round(time.Millisecond), n,
			(sum / n).Round(time.Millisecond), latencies[n/2].Round(time.Millisecond), latencies[n-1].Round(time.Millisecond))
	}
	if got := iss.server.Proxy.NewAccounts(iss.accountThumbprint(t)); got != 1 {
		t.Errorf("the account was registered %d times for %d CSRs, want once", got, n)
	}
}
