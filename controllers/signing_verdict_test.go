package controllers

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

const verdictSigner = "clusterissuers.cert-manager.io/ca"

// verdictCSR is an approved CSR from alice for web.m.example.com with server auth.
func verdictCSR(t *testing.T, tmpl *x509.CertificateRequest) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{DNSNames: []string{"web.m.example.com"}}
	}
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Annotations: map[string]string{}},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: verdictSigner, Username: "alice",
			Request: testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), tmpl),
			Usages:  []certificatesv1.KeyUsage{"digital signature", "server auth"},
		},
		Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "KubectlApprove",
		}}},
	}
}

// readyPolicy governs verdictSigner; narrow is alice's Manual one, broad is another team's.
func readyPolicy(name string, edit func(*policyv1alpha1.SignerPolicySpec)) policyv1alpha1.SignerPolicy {
	p := policyv1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef:  &policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: "ca"},
			Requesters: policyv1alpha1.Subjects{Users: []string{"alice"}},
			Approval:   policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual},
			Duration:   &policyv1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 24 * time.Hour}},
			Usages:     []policyv1alpha1.KeyUsage{"digital signature", "server auth"},
			Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.m.example.com"}},
		},
		Status: policyv1alpha1.SignerPolicyStatus{Conditions: []metav1.Condition{{
			Type: policyv1alpha1.ConditionReady, Status: metav1.ConditionTrue, ObservedGeneration: 1, Reason: "Ready",
		}}},
	}
	if edit != nil {
		edit(&p.Spec)
	}
	return p
}

// selectedServiceAccount makes the CSR a service account's, which the requester's policy selects
// by the label team=a of its namespace, whose labels are namespaceLabels.
func selectedServiceAccount(in *signingInputs, namespaceLabels map[string]string) {
	in.csr.Spec.Username = "system:serviceaccount:shop:web"
	in.policies.Cluster[0].Spec.Requesters = policyv1alpha1.Subjects{ServiceAccountSelectors: []policyv1alpha1.ServiceAccountSelector{{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}}}}
	in.namespaces.serviceAccount = namespaceLabels
}

// newEvaluator is the evaluator Setup builds.
func newEvaluator(t *testing.T) *policy.Evaluator {
	t.Helper()
	e, err := policy.NewEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func broadForAnotherTeam(s *policyv1alpha1.SignerPolicySpec) {
	s.Requesters = policyv1alpha1.Subjects{Groups: []string{"team-b"}}
	s.Approval.Mode = policyv1alpha1.ApprovalAutomatic
	s.AllowCA = true
	s.Usages = append(s.Usages, "client auth", "cert sign")
	s.Duration.Max.Duration = 87600 * time.Hour
	s.Allowed.DNSNames = append(s.Allowed.DNSNames, "*.b.example.com")
}

func TestGateVerdict(t *testing.T) {
	caIssuer := &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "ca"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}}}
	signers, err := signer.NewRegistry(signer.Entry{Type: signer.TypeCA, Signer: signertest.New()})
	if err != nil {
		t.Fatal(err)
	}
	narrow := readyPolicy("narrow", nil)
	broad := readyPolicy("broad", broadForAnotherTeam)
	tests := []struct {
		name     string
		edit     func(*signingInputs)
		want     verdictKind
		reason   string
		policy   string
		lifetime time.Duration
		mention  []string
	}{
		{name: "allowed by the requester's own Manual policy", want: verdictSign, policy: "narrow", lifetime: 24 * time.Hour},
		{name: "lifetime clamped to the requester's policy, not another's", want: verdictSign, policy: "narrow", lifetime: 24 * time.Hour,
			edit: func(in *signingInputs) { in.csr.Annotations[csr.DurationAnnotation] = "2160h" }},
		{name: "the CA flag only another team's policy allows", want: verdictFail, reason: ReasonPolicyViolation,
			edit:    func(in *signingInputs) { in.csr.Annotations[csr.IsCAAnnotation] = "true" },
			mention: []string{`policy "narrow"`, "spec.allowCA", `policy "broad"`, "spec.requesters"}},
		{name: "a usage only another team's policy allows", want: verdictFail, reason: ReasonPolicyViolation,
			edit:    func(in *signingInputs) { in.csr.Spec.Usages = append(in.csr.Spec.Usages, "client auth") },
			mention: []string{"spec.usages", "client auth"}},
		{name: "a name only another team's policy allows", want: verdictFail, reason: ReasonPolicyViolation,
			edit: func(in *signingInputs) {
				in.csr.Spec.Request = verdictCSR(t, &x509.CertificateRequest{DNSNames: []string{"x.b.example.com"}}).Spec.Request
			},
			mention: []string{"spec.allowed.dnsNames", "x.b.example.com"}},
		{name: "a name the requester's own policy refuses in a CEL rule", want: verdictFail, reason: ReasonPolicyViolation,
			edit: func(in *signingInputs) {
				in.policies.Cluster[0].Spec.Validations = []policyv1alpha1.Validation{{Rule: `request.dnsNames.all(n, n.startsWith("api."))`, Message: "only api names"}}
			},
			mention: []string{"spec.validations[0].rule", "only api names"}},
		{name: "a service account selected by labels its namespace has", want: verdictSign, policy: "narrow", lifetime: 24 * time.Hour,
			edit: func(in *signingInputs) { selectedServiceAccount(in, map[string]string{"team": "a"}) }},
		{name: "a service account whose namespace lost the label since approval", want: verdictFail, reason: ReasonPolicyViolation,
			edit:    func(in *signingInputs) { selectedServiceAccount(in, map[string]string{"team": "b"}) },
			mention: []string{`policy "narrow"`, "spec.requesters"}},
		{name: "a system identity approved by a person", want: verdictFail, reason: ReasonPolicyViolation,
			edit: func(in *signingInputs) {
				in.csr.Spec.Request = verdictCSR(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:masters"}}).Spec.Request
			},
			mention: []string{"system:masters"}},
		{name: "no policy governs the signer: fail closed, and wait for one", want: verdictWait, reason: ReasonNoSignerPolicy,
			edit: func(in *signingInputs) { in.policies = policy.Policies{} }, mention: []string{"no SignerPolicy governs signer " + verdictSigner}},
		{name: "the requester's policy is not Ready yet", want: verdictWait, reason: ReasonWaiting,
			edit: func(in *signingInputs) { in.policies.Cluster[0].Status.Conditions[0].Status = metav1.ConditionFalse }},
		{name: "not approved", want: verdictWait, reason: ReasonWaitingApproval,
			edit: func(in *signingInputs) { in.csr.Status.Conditions = nil }},
		{name: "denied", want: verdictSkip,
			edit: func(in *signingInputs) { in.csr.Status.Conditions[0].Type = certificatesv1.CertificateDenied }},
		{name: "not a cert-manager signer", want: verdictSkip, edit: func(in *signingInputs) { in.refErr = csr.ErrNotCertManager }},
		{name: "malformed signer name", want: verdictWait, reason: ReasonInvalidSignerName,
			edit: func(in *signingInputs) { in.refErr = errors.New("spec.signerName: Invalid value") }},
		{name: "issuer missing", want: verdictWait, reason: ReasonIssuerNotFound, edit: func(in *signingInputs) { in.issuer = nil }},
		{name: "Issuer the requester may not reference", want: verdictFail, reason: ReasonDeniedReference,
			edit: func(in *signingInputs) {
				in.ref = policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: "a", Name: "ca"}
			}},
		{name: "duration under ten minutes", want: verdictFail, reason: ReasonInvalidDuration,
			edit: func(in *signingInputs) { in.csr.Annotations[csr.DurationAnnotation] = "5m" }},
		{name: "unparsable duration", want: verdictFail, reason: ReasonErrorParseDuration,
			edit: func(in *signingInputs) { in.csr.Annotations[csr.DurationAnnotation] = "soon" }},
		{name: "garbage request", want: verdictFail, reason: ReasonInvalidRequest,
			edit: func(in *signingInputs) { in.csr.Spec.Request = []byte("garbage") }},
		{name: "issuer not Ready", want: verdictWait, reason: ReasonIssuerNotReady,
			edit: func(in *signingInputs) {
				in.issuer = in.issuer.DeepCopyObject().(*cmapi.ClusterIssuer)
				in.issuer.GetStatus().Conditions = []cmapi.IssuerCondition{{Type: cmapi.IssuerConditionReady, Status: cmmeta.ConditionFalse}}
			}},
		{name: "issuer type without a signer", want: verdictWait, reason: ReasonUnsupportedIssuerType,
			edit: func(in *signingInputs) {
				in.issuer = &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "ca"},
					Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}}}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &signingInputs{
				csr: verdictCSR(t, nil), ref: policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: "ca"}, issuer: caIssuer,
				policies: policy.Policies{Cluster: []policyv1alpha1.SignerPolicy{*narrow.DeepCopy(), *broad.DeepCopy()}}, signers: signers,
				evaluator: newEvaluator(t),
			}
			if tt.edit != nil {
				tt.edit(in)
			}
			v := gate(in)
			if v.kind != tt.want || v.reason != tt.reason {
				t.Fatalf("verdict %d %s (%s), want %d %s", v.kind, v.reason, v.message, tt.want, tt.reason)
			}
			if v.kind == verdictSign && (v.grant.policy == nil || v.grant.policy.Name != tt.policy || v.grant.lifetime != tt.lifetime) {
				t.Errorf("grant %+v, want policy %s and lifetime %s", v.grant, tt.policy, tt.lifetime)
			}
			for _, m := range tt.mention {
				if !strings.Contains(v.message, m) {
					t.Errorf("message %q does not mention %q", v.message, m)
				}
			}
		})
	}
}
