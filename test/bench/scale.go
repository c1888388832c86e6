package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// scaleResult is what one new CSR costs once the cluster is full.
type scaleResult struct {
	steadyMiB    float64 // operator RSS with every CSR in its cache, before the new ones
	newCSRMillis float64 // median creation-to-certificate of one new CSR submitted alone
	cpuMillis    float64 // operator CPU per new CSR
	requests     float64 // operator API requests per new CSR
}

// singles is how many new CSRs, one after another, measure the cost of one.
const singles = 20

// measureScale fills the cluster with c.Scale CSRs of a signer the operator does not govern
// (they still sit in its cache), then reports the operator's steady memory and what one new
// policy-approved CSR submitted alone costs, over singles of them.
func (b *bench) measureScale(ctx context.Context) (scaleResult, error) {
	if err := setApprovalMode(ctx, b.cl, policyv1alpha1.ApprovalAutomatic); err != nil {
		return scaleResult{}, err
	}
	op, err := b.startOperator(ctx, "scale")
	if err != nil {
		return scaleResult{}, err
	}
	defer op.stop()
	if err := waitForPolicies(ctx, b.cl, b.c.Policies); err != nil {
		return scaleResult{}, err
	}
	cs, err := unthrottled(b.cl.config)
	if err != nil {
		return scaleResult{}, err
	}
	request, err := b.f.request(0)
	if err != nil {
		return scaleResult{}, err
	}
	err = forEach(b.c.Scale, b.c.Concurrency, func(i int) error {
		_, err := cs.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("scale-%d", i)},
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "bench.signerpolicy.dev/scale", Request: request,
				Usages: []certificatesv1.KeyUsage{"digital signature"}},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return scaleResult{}, err
	}
	time.Sleep(10 * time.Second) // let the operator's cache take them all in
	before, err := op.sample()
	if err != nil {
		return scaleResult{}, err
	}
	one := b.c
	one.N, one.Concurrency = 1, 1
	var latencies []time.Duration
	for i := range singles {
		t, err := stream(ctx, b.cl, b.f, one, submission{run: fmt.Sprintf("single-%d", i), signerName: b.f.signerName})
		if err != nil {
			return scaleResult{}, err
		}
		latencies = append(latencies, t.latencies...)
	}
	after, err := op.sample()
	if err != nil {
		return scaleResult{}, err
	}
	slices.Sort(latencies)
	return scaleResult{
		steadyMiB:    before.rss,
		newCSRMillis: float64(latencies[len(latencies)/2].Microseconds()) / 1000,
		cpuMillis:    (after.cpu - before.cpu) * 1000 / singles,
		requests:     (after.requests - before.requests) / singles,
	}, nil
}
