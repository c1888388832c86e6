package controllers

import (
	"errors"
	"slices"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func onSigners(names ...string) policyv1alpha1.SignerPolicy {
	return policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: policyv1alpha1.SignerPolicySpec{SignerNames: names}}
}

func TestApprovalSkipsOnlyWhatNoPolicyGoverns(t *testing.T) {
	custom := []policyv1alpha1.SignerPolicy{onSigners("example.com/*")}
	tests := []struct {
		signer   string
		policies []policyv1alpha1.SignerPolicy
		want     bool
	}{
		{"issuers.cert-manager.io/ns.ca", nil, false},    // cert-manager's: decided as before
		{"issuers.cert-manager.io/no-dot", custom, true}, // malformed: the signing controller says so
		{"kubernetes.io/kubelet-serving", nil, true},     // no policy: someone else's
		{"kubernetes.io/kubelet-serving", custom, true},  // a policy of another domain
		{"example.com/mesh", custom, false},              // governed
		{"example.com/mesh", []policyv1alpha1.SignerPolicy{onSigners("example.com/other")}, true},
	}
	for _, tt := range tests {
		if got := approvalSkips(tt.signer, tt.policies); got != tt.want {
			t.Errorf("approvalSkips(%q) = %v, want %v", tt.signer, got, tt.want)
		}
	}
}

func TestCSRsOfOtherSignersAreIndexedByTheirDomainWildcardToo(t *testing.T) {
	index := func(name string) []string {
		return indexCSRBySignerName(&certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: name}})
	}
	if got, want := index("example.com/mesh"), []string{"example.com/mesh", "example.com/*"}; !slices.Equal(got, want) {
		t.Errorf("index = %q, want %q", got, want)
	}
	if got, want := index("issuers.cert-manager.io/ns.ca"), []string{"issuers.cert-manager.io/ns.ca"}; !slices.Equal(got, want) {
		t.Errorf("index = %q, want %q", got, want)
	}
}

// Other signers read spec.expirationSeconds, never cert-manager's annotations: a short
// request-duration must not pass a policy while the signer issues its own lifetime.
func TestOtherSignersLifetimeIsExpirationSecondsOnly(t *testing.T) {
	c := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			"experimental.cert-manager.io/request-duration": "1h", "experimental.cert-manager.io/request-is-ca": "true"}},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "example.com/mesh"},
	}
	req := requestFor(c, nil)
	if req.Duration != 0 || req.IsCA {
		t.Errorf("duration %v, isCA %v; want neither from cert-manager's annotations", req.Duration, req.IsCA)
	}
	c.Spec.ExpirationSeconds = ptr.To[int32](7200)
	if req := requestFor(c, nil); req.Duration.Hours() != 2 {
		t.Errorf("duration = %v, want 2h from spec.expirationSeconds", req.Duration)
	}
}

func TestSignerNamesPolicyIsReadyWithoutAnIssuer(t *testing.T) {
	p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Generation: 3},
		Spec: policyv1alpha1.SignerPolicySpec{SignerNames: []string{"kubernetes.io/kube-apiserver-client", "example.com/*"}}}
	c := readyCondition(p, policyObservation{}, nil, nil)
	if c.Status != metav1.ConditionTrue || c.ObservedGeneration != 3 || !strings.Contains(c.Message, "example.com/*, kubernetes.io/kube-apiserver-client") ||
		!strings.Contains(c.Message, "never signs") {
		t.Errorf("Ready = %+v, want True naming the sorted signer names and that they are never signed", c)
	}
	c = readyCondition(p, policyObservation{}, errors.New("boom"), nil)
	if c.Status != metav1.ConditionFalse || c.Reason != policyv1alpha1.ReasonRBACFailed {
		t.Errorf("Ready = %+v, want False RBACFailed", c)
	}
}
