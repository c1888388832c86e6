package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// measureScale fills the cluster with c.Scale CSRs of a signer the operator does not govern
// (they still sit in its cache), then reports the operator's steady memory and the median
// latency of one new governed CSR submitted alone, twenty times.
func measureScale(ctx context.Context, env *harness.Env, f *fixture, c config, op *operator) (steadyMiB, newCSRMillis float64, err error) {
	cs, err := unthrottled(env.Config)
	if err != nil {
		return 0, 0, err
	}
	request, err := f.request(0)
	if err != nil {
		return 0, 0, err
	}
	err = forEach(c.Scale, c.Concurrency, func(i int) error {
		_, err := cs.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("scale-%d", i)},
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "bench.signerpolicy.dev/scale", Request: request,
				Usages: []certificatesv1.KeyUsage{"digital signature"}},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	time.Sleep(10 * time.Second) // let the operator's cache take them all in
	s, err := op.sample()
	if err != nil {
		return 0, 0, err
	}
	one := c
	one.N, one.Concurrency = 1, 1
	var latencies []time.Duration
	for i := range 20 {
		d, err := issue(ctx, env, f, one, fmt.Sprintf("single-%d", i))
		if err != nil {
			return 0, 0, err
		}
		latencies = append(latencies, d...)
	}
	slices.Sort(latencies)
	return s.rss, float64(latencies[len(latencies)/2].Microseconds()) / 1000, nil
}
