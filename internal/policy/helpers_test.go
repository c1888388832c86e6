package policy

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

const testSigner = "issuers.cert-manager.io/team-a.ca"

// newKey returns a P-256 key: fast to generate and allowed by the default key policy.
func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	return testpki.NewKey(t, testpki.ECDSA)
}

// newCSR signs template with key and parses it back, as the approval controller would.
func newCSR(t testing.TB, key crypto.Signer, template *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	csr, err := x509.ParseCertificateRequest(testpki.RequestDER(t, key, template))
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// basePolicy allows baseRequest and nothing much else; tests change one thing at a time.
func basePolicy(name string) v1alpha1.SignerPolicy {
	p := v1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec: v1alpha1.SignerPolicySpec{
			IssuerRef:  &v1alpha1.IssuerReference{Kind: v1alpha1.IssuerKindIssuer, Namespace: "team-a", Name: "ca"},
			Requesters: v1alpha1.Subjects{Users: []string{"alice"}},
			Allowed: v1alpha1.Allowed{
				CommonName: []string{"web.team-a.example.com"},
				DNSNames:   []string{"*.team-a.example.com"},
			},
		},
	}
	return withReady(p, metav1.ConditionTrue, 1)
}

func withReady(p v1alpha1.SignerPolicy, status metav1.ConditionStatus, observed int64) v1alpha1.SignerPolicy {
	p.Status.Conditions = []metav1.Condition{{
		Type: v1alpha1.ConditionReady, Status: status, ObservedGeneration: observed, Reason: "Test",
	}}
	return p
}

func baseTemplate() *x509.CertificateRequest {
	return &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "web.team-a.example.com"},
		DNSNames: []string{"web.team-a.example.com"},
	}
}

func baseRequest(t testing.TB, template *x509.CertificateRequest) Request {
	t.Helper()
	return Request{
		SignerName: testSigner,
		Requester:  Requester{Username: "alice", Groups: []string{"system:authenticated"}},
		CSR:        newCSR(t, newKey(t), template),
		Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
	}
}

// violations evaluates req against one policy alone, as Evaluate does for each ready policy.
func violations(p *v1alpha1.SignerPolicy, req Request) field.ErrorList {
	rules, err := newRules()
	if err != nil {
		panic(err)
	}
	return newEvaluation(&req, rules).check(&p.Spec)
}

// fieldsOf lists "path type" for each error, which is what tests assert on: the path names the
// policy field that refused.
func fieldsOf(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+" "+string(e.Type))
	}
	return out
}

func assertFields(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	if got := fieldsOf(errs); !slices.Equal(got, want) {
		t.Errorf("errors = %v\nwant fields %q", errs, want)
	}
}

// sanExtension encodes a subjectAltName extension of exactly the given GeneralNames, so a test
// can request what crypto/x509 would not write, or would escape first.
func sanExtension(t testing.TB, names ...asn1.RawValue) pkix.Extension {
	t.Helper()
	der, err := asn1.Marshal(names)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidExtensionSubjectAltName, Value: der}
}

// generalName is one GeneralName of a subjectAltName: tag is its CHOICE, content its encoding.
func generalName(tag int, compound bool, content string) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: compound, Bytes: []byte(content)}
}

// rawSubject encodes a subject of one attribute per RDN, in the order given and duplicates
// included, as pkix.Name cannot.
func rawSubject(t testing.TB, attributes ...pkix.AttributeTypeAndValue) []byte {
	t.Helper()
	var rdns pkix.RDNSequence
	for _, a := range attributes {
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{a})
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
