package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestSignerNameMatches(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"example.com/signer", "example.com/signer", true},
		{"example.com/signer", "example.com/other", false},
		{"example.com/*", "example.com/signer", true},
		{"example.com/*", "example.com/a.b", true},
		{"example.com/*", "sub.example.com/signer", false},
		{"example.com/*", "example.com/", false},
		{"example.com/*", "example.com", false},
		{"example.com/*", "example.org/signer", false},
		// cert-manager's names are governed through issuerRef and issuers only, whatever a policy
		// that bypassed validation lists.
		{"issuers.cert-manager.io/*", "issuers.cert-manager.io/ns.ca", false},
		{"clusterissuers.cert-manager.io/ca", "clusterissuers.cert-manager.io/ca", false},
		{"issuers.cert-manager.io/*", "issuers.cert-manager.io/bad/name", false},
		{"*", "example.com/signer", false},
		{"kubernetes.io/kubelet-serving", "kubernetes.io/kubelet-serving", true},
	}
	for _, tt := range tests {
		if got := SignerNameMatches(tt.pattern, tt.name); got != tt.want {
			t.Errorf("SignerNameMatches(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestSignerNameKeys(t *testing.T) {
	if got, want := SignerNameKeys("example.com/signer"), []string{"example.com/signer", "example.com/*"}; !slices.Equal(got, want) {
		t.Errorf("SignerNameKeys = %q, want %q", got, want)
	}
	if got, want := SignerNameKeys("garbage"), []string{"garbage"}; !slices.Equal(got, want) {
		t.Errorf("SignerNameKeys = %q, want %q", got, want)
	}
}

func TestNodeName(t *testing.T) {
	for username, want := range map[string]string{"system:node:n1": "n1", "system:node:": "", "system:node:a b": "", "n1": "", "system:serviceaccount:a:b": ""} {
		got, ok := NodeName(username)
		if got != want || ok != (want != "") {
			t.Errorf("NodeName(%q) = %q, %v; want %q", username, got, ok, want)
		}
	}
}

func signerNamesPolicy(name string, signerNames ...string) v1alpha1.SignerPolicy {
	p := basePolicy(name)
	p.Spec.IssuerRef = nil
	p.Spec.SignerNames = signerNames
	return p
}

func TestPoliciesGovernSignerNamesNotCertManagerOnes(t *testing.T) {
	e, err := NewEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	custom := signerNamesPolicy("custom", "example.com/*")
	issuer := basePolicy("issuer")
	policies := []v1alpha1.SignerPolicy{custom, issuer}

	req := baseRequest(t, baseTemplate())
	req.SignerName = "example.com/mesh"
	if d := e.Evaluate(Policies{Cluster: policies}, req); d.Result != Approve || d.Policy != "custom" {
		t.Errorf("example.com/mesh: %+v, want Approve by custom", d)
	}
	req.SignerName = testSigner
	if d := e.Evaluate(Policies{Cluster: policies}, req); d.Result != Approve || d.Policy != "issuer" {
		t.Errorf("%s: %+v, want Approve by issuer alone", testSigner, d)
	}
	req.SignerName = "example.org/mesh"
	if d := e.Evaluate(Policies{Cluster: policies}, req); d.Result != NotGoverned {
		t.Errorf("example.org/mesh: %+v, want NotGoverned", d)
	}
	// A policy that bypassed validation to list cert-manager's domain governs nothing there.
	capture := signerNamesPolicy("capture", "issuers.cert-manager.io/*")
	req.SignerName = "issuers.cert-manager.io/other.ca"
	if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{capture}}, req); d.Result != NotGoverned {
		t.Errorf("a signerNames policy on cert-manager's domain: %+v, want NotGoverned", d)
	}
}

// Signers the operator does not sign for give a CSR that requests no lifetime their own, which an
// approval cannot shorten: a policy with a max requires a requested lifetime, one without leaves
// it to the signer.
func TestSignerNamesBoundLifetimesTheSignerWillIssue(t *testing.T) {
	p := signerNamesPolicy("custom", "example.com/*")
	req := baseRequest(t, baseTemplate())
	req.SignerName = "example.com/mesh"
	assertFields(t, violations(&p, req))

	p.Spec.Duration = &v1alpha1.DurationBounds{Min: &metav1.Duration{Duration: 24 * time.Hour}, Max: &metav1.Duration{Duration: 48 * time.Hour}}
	assertFields(t, violations(&p, req), "spec.duration.max FieldValueRequired")
	req.Duration = 36 * time.Hour
	assertFields(t, violations(&p, req))
	req.Duration = 72 * time.Hour
	assertFields(t, violations(&p, req), "spec.duration.max FieldValueInvalid")
}

func apiClientRequest(t *testing.T, subject pkix.Name) Request {
	t.Helper()
	return Request{
		SignerName: KubeAPIServerClientSigner,
		Requester:  Requester{Username: "alice", Groups: []string{"dev", "system:authenticated"}},
		CSR:        newCSR(t, newKey(t), &x509.CertificateRequest{Subject: subject}),
		Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
	}
}

func TestKubeAPIServerClient(t *testing.T) {
	p := signerNamesPolicy("clients", KubeAPIServerClientSigner)
	p.Spec.Requesters = v1alpha1.Subjects{Groups: []string{"dev"}}
	p.Spec.Usages = []v1alpha1.KeyUsage{"digital signature", "client auth"}
	p.Spec.Allowed = v1alpha1.Allowed{CommonName: []string{"$(requester.username)"}, Organizations: []string{"dev", "viewers"}}
	tests := []struct {
		name    string
		subject pkix.Name
		want    []string
	}{
		{"the requester's own name and groups", pkix.Name{CommonName: "alice", Organization: []string{"dev", "viewers"}}, nil},
		{"someone else's name", pkix.Name{CommonName: "bob"}, []string{"spec.allowed.commonName FieldValueInvalid"}},
		{"system:masters", pkix.Name{CommonName: "alice", Organization: []string{"system:masters"}}, []string{"spec.allowed.organizations FieldValueForbidden"}},
		{"a group not listed", pkix.Name{CommonName: "alice", Organization: []string{"admins"}}, []string{"spec.allowed.organizations FieldValueInvalid"}},
		{"a system user", pkix.Name{CommonName: "system:kube-controller-manager"}, []string{"spec.allowed.commonName FieldValueForbidden"}},
		{"no user at all", pkix.Name{Organization: []string{"dev"}}, []string{"spec.allowed.commonName FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertFields(t, violations(&p, apiClientRequest(t, tt.subject)), tt.want...)
		})
	}
	// kubeadm binds kubeadm:cluster-admins to cluster-admin: a pattern written for ordinary groups
	// never hands it out, as it never hands out a system: group.
	broad := signerNamesPolicy("clients", KubeAPIServerClientSigner)
	broad.Spec.Requesters, broad.Spec.Usages = p.Spec.Requesters, p.Spec.Usages
	broad.Spec.Allowed = v1alpha1.Allowed{CommonName: []string{"$(requester.username)"}, Organizations: []string{"*"}}
	t.Run("kubeadm:cluster-admins under a pattern", func(t *testing.T) {
		assertFields(t, violations(&broad, apiClientRequest(t, pkix.Name{CommonName: "alice", Organization: []string{"kubeadm:cluster-admins"}})),
			"spec.allowed.organizations FieldValueForbidden")
	})
	broad.Spec.Allowed.Organizations = []string{"kubeadm:cluster-admins"}
	t.Run("kubeadm:cluster-admins listed exactly", func(t *testing.T) {
		assertFields(t, violations(&broad, apiClientRequest(t, pkix.Name{CommonName: "alice", Organization: []string{"kubeadm:cluster-admins"}})))
	})
	// A system identity is allowed only when the policy spells it out.
	p.Spec.Requesters.Users = []string{"system:kube-scheduler"}
	p.Spec.Allowed.CommonName = append(p.Spec.Allowed.CommonName, "system:kube-scheduler")
	req := apiClientRequest(t, pkix.Name{CommonName: "system:kube-scheduler"})
	req.Requester = Requester{Username: "system:kube-scheduler"}
	assertFields(t, violations(&p, req))
}
