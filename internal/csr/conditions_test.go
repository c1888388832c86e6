package csr

import (
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func withConditions(types ...certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequest {
	csr := &certificatesv1.CertificateSigningRequest{}
	for _, ct := range types {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: ct, Status: corev1.ConditionTrue,
		})
	}
	return csr
}

func TestConditionPredicates(t *testing.T) {
	const (
		approved = certificatesv1.CertificateApproved
		denied   = certificatesv1.CertificateDenied
		failed   = certificatesv1.CertificateFailed
	)
	tests := map[string]struct {
		csr                                       *certificatesv1.CertificateSigningRequest
		isApproved, isDenied, isFailed, isPending bool
	}{
		"no conditions":          {csr: withConditions(), isPending: true},
		"only unrelated":         {csr: withConditions("Custom"), isPending: true},
		"approved":               {csr: withConditions(approved), isApproved: true},
		"denied":                 {csr: withConditions(denied), isDenied: true},
		"failed without verdict": {csr: withConditions(failed), isFailed: true},
		"approved then failed":   {csr: withConditions(approved, failed), isApproved: true, isFailed: true},
		"denied among others":    {csr: withConditions("Custom", denied), isDenied: true},
		"nil":                    {csr: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsApproved(tc.csr); got != tc.isApproved {
				t.Errorf("IsApproved = %t, want %t", got, tc.isApproved)
			}
			if got := IsDenied(tc.csr); got != tc.isDenied {
				t.Errorf("IsDenied = %t, want %t", got, tc.isDenied)
			}
			if got := IsFailed(tc.csr); got != tc.isFailed {
				t.Errorf("IsFailed = %t, want %t", got, tc.isFailed)
			}
			if got := IsPending(tc.csr); got != tc.isPending {
				t.Errorf("IsPending = %t, want %t", got, tc.isPending)
			}
		})
	}
}

func TestIsIssued(t *testing.T) {
	tests := map[string]struct {
		csr  *certificatesv1.CertificateSigningRequest
		want bool
	}{
		"nil":               {csr: nil},
		"no certificate":    {csr: &certificatesv1.CertificateSigningRequest{}},
		"empty certificate": {csr: &certificatesv1.CertificateSigningRequest{Status: certificatesv1.CertificateSigningRequestStatus{Certificate: []byte{}}}},
		"certificate set":   {csr: &certificatesv1.CertificateSigningRequest{Status: certificatesv1.CertificateSigningRequestStatus{Certificate: []byte("pem")}}, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsIssued(tc.csr); got != tc.want {
				t.Errorf("IsIssued = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestFailedCondition(t *testing.T) {
	now := metav1.NewTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	got := FailedCondition("InvalidDuration", "too short", now)
	want := certificatesv1.CertificateSigningRequestCondition{
		Type:               certificatesv1.CertificateFailed,
		Status:             corev1.ConditionTrue,
		Reason:             "InvalidDuration",
		Message:            "too short",
		LastUpdateTime:     now,
		LastTransitionTime: now,
	}
	if got != want {
		t.Errorf("FailedCondition = %+v, want %+v", got, want)
	}
	csr := withConditions(certificatesv1.CertificateApproved)
	csr.Status.Conditions = append(csr.Status.Conditions, got)
	if !IsFailed(csr) || IsPending(csr) {
		t.Errorf("a CSR carrying FailedCondition must read as failed and not pending")
	}
}
