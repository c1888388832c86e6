package controllers

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// requestFor turns each fault of a CSR into a field error on the request, which every policy then
// refuses by name, and never into an error of the operator.
func TestRequestForFilesEachFaultUnderItsField(t *testing.T) {
	good := testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})
	tests := []struct {
		name        string
		request     []byte
		annotations map[string]string
		wantFields  []string
		check       func(*testing.T, *policy.Request)
	}{
		{name: "a good request", request: good, annotations: map[string]string{csr.DurationAnnotation: "24h", csr.IsCAAnnotation: "true"},
			check: func(t *testing.T, f *policy.Request) {
				if f.CSR == nil || f.Duration != 24*time.Hour || !f.IsCA || f.Requester.Username != "alice" || f.Requester.Groups[0] != "devs" {
					t.Errorf("facts = %+v", f)
				}
			}},
		{name: "no requested duration is zero", request: good, check: func(t *testing.T, f *policy.Request) {
			if f.Duration != 0 {
				t.Errorf("duration = %s, want none", f.Duration)
			}
		}},
		{name: "garbage request", request: []byte("garbage"), wantFields: []string{"spec.request"}},
		{name: "unreadable duration", request: good, annotations: map[string]string{csr.DurationAnnotation: "soon"},
			wantFields: []string{"metadata.annotations[" + csr.DurationAnnotation + "]"}},
		{name: "unreadable CA flag", request: good, annotations: map[string]string{csr.IsCAAnnotation: "yes"},
			wantFields: []string{"metadata.annotations[" + csr.IsCAAnnotation + "]"}},
		{name: "every fault at once", request: []byte("garbage"), annotations: map[string]string{csr.DurationAnnotation: "-1h", csr.IsCAAnnotation: "yes"},
			wantFields: []string{"spec.request", "metadata.annotations[" + csr.DurationAnnotation + "]", "metadata.annotations[" + csr.IsCAAnnotation + "]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &certificatesv1.CertificateSigningRequest{}
			c.Annotations = tt.annotations
			c.Spec = certificatesv1.CertificateSigningRequestSpec{
				SignerName: "clusterissuers.cert-manager.io/ca", Request: tt.request, Username: "alice", Groups: []string{"devs"},
				Usages: []certificatesv1.KeyUsage{"digital signature", "server auth"},
			}
			req := requestFor(c)
			var fields []string
			for _, p := range req.Problems {
				fields = append(fields, p.Field)
			}
			if strings.Join(fields, " ") != strings.Join(tt.wantFields, " ") {
				t.Errorf("problems under %v, want %v: %v", fields, tt.wantFields, req.Problems)
			}
			if tt.check != nil {
				tt.check(t, &req)
			}
		})
	}
}
