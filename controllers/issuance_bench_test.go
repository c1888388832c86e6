//go:build !unit

package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// BenchmarkIssuance measures, on the real control plane, the time from creating a CSR to
// seeing its certificate, for 100 CSRs submitted at once by one requester to a CA Issuer under
// an Automatic policy, so approval and signing both run. It reports p50, p99 and max and never
// fails on a time. Run it with:
//
//	go test -run '^$' -bench Issuance -benchtime 1x ./controllers/
func BenchmarkIssuance(b *testing.B) {
	const n = 100
	tn := newTenant(b)
	env.Create(b, testpki.NewRootCA(b, testpki.ECDSA, "bench CA").Secret(tn.ns, "ca"))
	requester := env.User(b, tn.user)
	round := 0
	for b.Loop() {
		b.StopTimer()
		requests := make([][]byte, n)
		for i := range requests {
			requests[i] = dnsCSR(b, fmt.Sprintf("web-%d.example.com", i))
		}
		round++
		b.StartTimer()
		latencies := issueAll(b, requester, tn.signerName, fmt.Sprintf("bench-%s-%d", tn.ns, round), requests)
		slices.Sort(latencies)
		b.ReportMetric(float64(latencies[n/2].Milliseconds()), "p50-ms")
		b.ReportMetric(float64(latencies[n*99/100-1].Milliseconds()), "p99-ms")
		b.ReportMetric(float64(latencies[n-1].Milliseconds()), "max-ms")
	}
}

// issueAll creates every CSR concurrently and returns, per CSR, the time from just before its
// create call to the first moment the admin sees its certificate.
func issueAll(b *testing.B, requester client.Client, signerName, prefix string, requests [][]byte) []time.Duration {
	ctx := context.Background()
	var mu sync.Mutex
	started := make(map[string]time.Time, len(requests))
	var wg sync.WaitGroup
	for i, req := range requests {
		wg.Go(func() {
			c := &certificatesv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i)},
				Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signerName, Request: req,
					Usages: []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"}},
			}
			start := time.Now()
			if err := requester.Create(ctx, c); err != nil {
				b.Errorf("creating %s: %v", c.Name, err)
				return
			}
			mu.Lock()
			started[c.Name] = start
			mu.Unlock()
		})
	}
	wg.Wait()
	b.Cleanup(func() {
		for name := range started {
			_ = env.Admin.Delete(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
	})
	latencies := make(map[string]time.Duration, len(requests))
	// The deadline only stops a hung run; the figures are reported, never judged.
	for deadline := time.Now().Add(5 * time.Minute); len(latencies) < len(started) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var list certificatesv1.CertificateSigningRequestList
		if err := env.Admin.List(ctx, &list); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for _, c := range list.Items {
			if start, ok := started[c.Name]; ok && len(c.Status.Certificate) > 0 && latencies[c.Name] == 0 {
				latencies[c.Name] = now.Sub(start)
			}
		}
	}
	if len(latencies) < len(requests) {
		b.Fatalf("%d of %d CSRs were issued", len(latencies), len(requests))
	}
	out := make([]time.Duration, 0, len(latencies))
	for _, d := range latencies {
		out = append(out, d)
	}
	return out
}
