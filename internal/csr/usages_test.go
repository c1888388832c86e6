package csr

import (
	"crypto/x509"
	"slices"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
)

func TestKeyUsages(t *testing.T) {
	tests := map[string]struct {
		usages  []certificatesv1.KeyUsage
		wantKU  x509.KeyUsage
		wantEKU []x509.ExtKeyUsage
		wantErr bool
	}{
		"empty defaults to digital signature and key encipherment": {
			wantKU: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		},
		"empty non-nil list defaults too": {
			usages: []certificatesv1.KeyUsage{},
			wantKU: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		},
		"TLS server": {
			usages:  []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth},
			wantKU:  x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		"client only, no key usage bits": {
			usages:  []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
		"signing is digital signature": {
			usages: []certificatesv1.KeyUsage{certificatesv1.UsageSigning},
			wantKU: x509.KeyUsageDigitalSignature,
		},
		"CA usages are only what is listed": {
			usages: []certificatesv1.KeyUsage{certificatesv1.UsageCertSign, certificatesv1.UsageCRLSign},
			wantKU: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		},
		"extended usages keep their order": {
			usages:  []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth, certificatesv1.UsageCodeSigning},
			wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageCodeSigning},
		},
		"unknown usage": {
			usages:  []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth, "teleport"},
			wantErr: true,
		},
		"wrong case is unknown": {
			usages:  []certificatesv1.KeyUsage{"Server Auth"},
			wantErr: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ku, eku, err := KeyUsages(tc.usages)
			if tc.wantErr {
				wantFieldError(t, err, "spec.usages", "unknown key usages")
				return
			}
			if err != nil {
				t.Fatalf("KeyUsages error = %v", err)
			}
			if ku != tc.wantKU || !slices.Equal(eku, tc.wantEKU) {
				t.Errorf("KeyUsages = %b, %v; want %b, %v", ku, eku, tc.wantKU, tc.wantEKU)
			}
		})
	}
}
