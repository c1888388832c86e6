package policy

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// RequestForCSR turns each fault of a CSR into a field error on the request, which every policy then
// refuses by name, and never into an error of the operator.
func TestRequestForCSRFilesEachFaultUnderItsField(t *testing.T) {
	good := testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})
	tests := []struct {
		name        string
		request     []byte
		annotations map[string]string
		wantFields  []string
		check       func(*testing.T, *Request)
	}{
		{name: "a good request", request: good, annotations: map[string]string{csr.DurationAnnotation: "24h", csr.IsCAAnnotation: "true"},
			check: func(t *testing.T, f *Request) {
				if f.CSR == nil || f.Duration != 24*time.Hour || !f.IsCA || f.Requester.Username != "alice" || f.Requester.Groups[0] != "devs" {
					t.Errorf("facts = %+v", f)
				}
			}},
		{name: "no requested duration is zero", request: good, check: func(t *testing.T, f *Request) {
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
			req := RequestForCSR(c)
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

// The namespaces whose labels decide a CSR are its service account's and its Issuer's, and only
// those: a person, a ClusterIssuer or a signer name that names no issuer has none.
func TestLabelledNamespaces(t *testing.T) {
	tests := []struct {
		username, signerName   string
		serviceAccount, issuer string
	}{
		{"system:serviceaccount:team-b:web", "issuers.cert-manager.io/team-a.ca", "team-b", "team-a"},
		{"alice", "issuers.cert-manager.io/team-a.ca", "", "team-a"},
		{"system:serviceaccount:team-b:web", "clusterissuers.cert-manager.io/ca", "team-b", ""},
		{"system:serviceaccount:team-b", "example.com/signer", "", ""},
		{"alice", "issuers.cert-manager.io/no-namespace", "", ""},
	}
	for _, tt := range tests {
		sa, issuer := LabelledNamespaces(tt.username, tt.signerName)
		if sa != tt.serviceAccount || issuer != tt.issuer {
			t.Errorf("LabelledNamespaces(%q, %q) = %q, %q; want %q, %q", tt.username, tt.signerName, sa, issuer, tt.serviceAccount, tt.issuer)
		}
	}
}

// A namespace that does not exist has nil labels, one without labels an empty set, so that a
// selector can tell the two apart.
func TestNamespaceLabelsKeepsMissingApartFromEmpty(t *testing.T) {
	if got := NamespaceLabels(nil); got != nil {
		t.Errorf("labels of no namespace = %v, want nil", got)
	}
	if got := NamespaceLabels(&corev1.Namespace{}); got == nil || len(got) != 0 {
		t.Errorf("labels of a namespace without labels = %#v, want an empty map", got)
	}
}

// Governing finds the policies the evaluator would consult, sorted by name.
func TestGoverningSortsThePoliciesOfTheSigner(t *testing.T) {
	other := basePolicy("a-other")
	other.Spec.IssuerRef = &v1alpha1.IssuerReference{Kind: v1alpha1.IssuerKindClusterIssuer, Name: "ca"}
	selecting := basePolicy("a-selecting")
	selecting.Spec.IssuerRef = nil
	selecting.Spec.Issuers = &v1alpha1.IssuerSelector{Kind: v1alpha1.IssuerKindIssuer, Names: []string{"*"},
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}}}
	policies := []v1alpha1.SignerPolicy{basePolicy("z-named"), other, selecting}

	var names []string
	for _, p := range Governing(policies, testSigner, map[string]string{"tenant": "true"}) {
		names = append(names, p.Name)
	}
	if strings.Join(names, " ") != "a-selecting z-named" {
		t.Errorf("governing = %v, want a-selecting z-named", names)
	}
	if got := Governing(policies, testSigner, nil); len(got) != 1 || got[0].Name != "z-named" {
		t.Errorf("without the namespace's labels, governing = %v, want z-named only", got)
	}
	if got := Governing(policies, "example.com/signer", nil); len(got) != 0 {
		t.Errorf("a signer that names no issuer is governed by %v", got)
	}
}
