package cli

import (
	"crypto/x509"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

const testSigner = "issuers.cert-manager.io/team-a.ca"

func readyPolicy(name string, mode policyv1alpha1.ApprovalMode, requesters ...string) policyv1alpha1.SignerPolicy {
	return policyv1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef:  &policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: "team-a", Name: "ca"},
			Requesters: policyv1alpha1.Subjects{Users: requesters},
			Approval:   policyv1alpha1.Approval{Mode: mode, Approvers: &policyv1alpha1.Subjects{Groups: []string{"security"}}},
			Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.team-a.example.com"}},
		},
		Status: policyv1alpha1.SignerPolicyStatus{Conditions: []metav1.Condition{{
			Type: policyv1alpha1.ConditionReady, Status: metav1.ConditionTrue, ObservedGeneration: 1, Reason: "Ready"}}},
	}
}

func requestFor(t *testing.T, username, dnsName string) policy.Request {
	t.Helper()
	c := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
		SignerName: testSigner, Username: username, Groups: []string{"system:authenticated"},
		Request: testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: []string{dnsName}}),
		Usages:  []certificatesv1.KeyUsage{"digital signature", "server auth"},
	}}
	return policy.RequestForCSR(c)
}

// Each governing policy gets its own verdict, from the evaluator run on it alone, and the hints
// follow from them.
func TestVerdictsAndHints(t *testing.T) {
	ev, err := policy.NewEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	stale := readyPolicy("d-not-ready", policyv1alpha1.ApprovalAutomatic, "alice")
	stale.Generation = 2
	policies := []policyv1alpha1.SignerPolicy{
		readyPolicy("a-auto", policyv1alpha1.ApprovalAutomatic, "alice"),
		readyPolicy("b-manual", policyv1alpha1.ApprovalManual, "alice"),
		readyPolicy("c-others", policyv1alpha1.ApprovalAutomatic, "bob"),
		stale,
	}
	tests := []struct {
		name      string
		dnsName   string
		policies  []policyv1alpha1.SignerPolicy
		state     csrState
		want      []verdictKind
		headline  string
		wantHints []string
	}{
		{name: "refused by all", dnsName: "x.evil.com", policies: policies[:3], state: csrState{name: "c", submitted: true, denied: true},
			want: []verdictKind{refuses, refuses, notARequester}, headline: "no SignerPolicy allows this request; approval is manual",
			wantHints: []string{"A denied CSR stays denied", `Under SignerPolicy "a-auto", which lists you`, "ask its owners to change spec.allowed.dnsNames"}},
		{name: "manual allows", dnsName: "web.team-a.example.com", policies: policies[1:3], state: csrState{name: "c", submitted: true},
			want: []verdictKind{allows, notARequester}, headline: `SignerPolicy "b-manual" allows this request`,
			wantHints: []string{"ask one of its approvers (groups security) to run `kubectl certificate approve c`"}},
		{name: "not a requester anywhere", dnsName: "web.team-a.example.com", policies: policies[2:3],
			want: []verdictKind{notARequester}, headline: "denied: no SignerPolicy allows this request",
			wantHints: []string{`No SignerPolicy governing ` + testSigner + ` lists "alice"`}},
		{name: "not ready", dnsName: "x.evil.com", policies: policies[2:4],
			want: []verdictKind{notReady, notARequester}, headline: `waiting for policy "d-not-ready" to become Ready`,
			wantHints: []string{`SignerPolicy "d-not-ready" is not Ready`}},
		{name: "not governed", dnsName: "web.team-a.example.com", headline: "no SignerPolicy governs this signer",
			wantHints: []string{"No SignerPolicy governs " + testSigner}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := requestFor(t, "alice", tt.dnsName)
			e := evaluate(ev, policy.Policies{Cluster: tt.policies}, req, atApproval)
			var kinds []verdictKind
			for _, v := range e.verdicts {
				kinds = append(kinds, v.kind)
			}
			if len(kinds) != len(tt.want) {
				t.Fatalf("verdicts %v, want %v", kinds, tt.want)
			}
			for i := range kinds {
				if kinds[i] != tt.want[i] {
					t.Errorf("verdict of %s = %v, want %v", e.verdicts[i].policy.Name, kinds[i], tt.want[i])
				}
			}
			if h := headline(&e); !strings.HasPrefix(h, tt.headline) {
				t.Errorf("headline %q, want it to start %q", h, tt.headline)
			}
			all := strings.Join(hints(tt.state, &e, &req), "\n")
			for _, want := range tt.wantHints {
				if !strings.Contains(all, want) {
					t.Errorf("hints lack %q:\n%s", want, all)
				}
			}
		})
	}
}

// At signing, modes are set aside: the Manual policy that allows the request lets it be signed.
func TestSigningStageSetsModesAside(t *testing.T) {
	ev, err := policy.NewEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	req := requestFor(t, "alice", "web.team-a.example.com")
	e := evaluate(ev, policy.Policies{Cluster: []policyv1alpha1.SignerPolicy{readyPolicy("b-manual", policyv1alpha1.ApprovalManual, "alice")}}, req, atSigning)
	if h := headline(&e); !strings.HasPrefix(h, `signed under SignerPolicy "b-manual", for 2160h0m0s`) {
		t.Errorf("headline %q", h)
	}
	if got := hints(csrState{name: "c", submitted: true, approved: true}, &e, &req); !strings.Contains(got[0], "allows the request as it would be issued") {
		t.Errorf("hints %v", got)
	}
}
