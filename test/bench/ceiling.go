package main

import (
	"context"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
	"github.com/signerpolicy/signer-policy-operator/test/pki"
)

// measureCeiling is the throughput of a trivial client that, for the same number of CSRs,
// creates each one and does only the writes the operator must do (approve, then
// status.certificate), with no policy or signing work: the most this machine's control plane
// allows. The CSRs use a signer the operator ignores.
func measureCeiling(ctx context.Context, env *harness.Env, f *fixture, c config) (float64, error) {
	cs, err := unthrottled(env.Config)
	if err != nil {
		return 0, err
	}
	ca, err := pki.NewAuthority("ceiling", nil, caValidity) // any parseable certificate will do for the write
	if err != nil {
		return 0, err
	}
	requests := make([][]byte, c.N)
	for i := range requests {
		if requests[i], err = f.request(i); err != nil {
			return 0, err
		}
	}
	csrs := cs.CertificatesV1().CertificateSigningRequests()
	start := time.Now()
	err = forEach(c.N, c.Concurrency, func(i int) error {
		csr, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ceiling-%d", i)},
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "bench.signerpolicy.dev/ceiling", Request: requests[i],
				Usages: []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"}},
		}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Ceiling", LastUpdateTime: now, LastTransitionTime: now,
		})
		if csr, err = csrs.UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
			return err
		}
		csr.Status.Certificate = ca.CertPEM
		_, err = csrs.UpdateStatus(ctx, csr, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ceiling client: %w", err)
	}
	return float64(c.N) / time.Since(start).Seconds(), nil
}
