package signer_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

func requestFor(requestPEM []byte, isCA bool, usages ...certificatesv1.KeyUsage) signer.Request {
	return signer.Request{
		CSR: &certificatesv1.CertificateSigningRequest{
			Spec: certificatesv1.CertificateSigningRequestSpec{Request: requestPEM, Usages: usages},
		},
		Duration: time.Hour,
		IsCA:     isCA,
		Usages:   usages,
	}
}

func extension(t *testing.T, ext pkix.Extension, err error) pkix.Extension {
	t.Helper()
	if err != nil {
		t.Fatalf("marshalling extension: %v", err)
	}
	return ext
}

func TestCertificateTemplateOverridesWithGateDecisions(t *testing.T) {
	key := testpki.NewKey(t, testpki.ECDSA)
	req := requestFor(testpki.RequestPEM(t, key, nil), true, certificatesv1.UsageCertSign, certificatesv1.UsageServerAuth)
	req.Duration = 48 * time.Hour
	before := time.Now()
	tmpl, err := signer.CertificateTemplate(req)
	if err != nil {
		t.Fatalf("CertificateTemplate error = %v", err)
	}
	if !tmpl.BasicConstraintsValid || !tmpl.IsCA {
		t.Errorf("basic constraints = valid %t, isCA %t; want a CA", tmpl.BasicConstraintsValid, tmpl.IsCA)
	}
	if tmpl.KeyUsage != x509.KeyUsageCertSign || !slices.Equal(tmpl.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("usages = %b, %v", tmpl.KeyUsage, tmpl.ExtKeyUsage)
	}
	if got := tmpl.NotAfter.Sub(tmpl.NotBefore); got != req.Duration {
		t.Errorf("lifetime = %v, want %v", got, req.Duration)
	}
	if tmpl.NotBefore.Before(before) || time.Since(tmpl.NotBefore) > time.Minute {
		t.Errorf("NotBefore = %v, want now", tmpl.NotBefore)
	}
}

// The request may encode its own basic constraints and key usages; they must agree with what
// was approved, and the disagreement names what to fix.
func TestCertificateTemplateRefusesDisagreeingRequests(t *testing.T) {
	key := testpki.NewKey(t, testpki.ECDSA)
	bc := func(isCA bool) pkix.Extension {
		ext, err := pki.MarshalBasicConstraints(isCA, nil)
		return extension(t, ext, err)
	}
	ku := func(usage x509.KeyUsage) pkix.Extension {
		ext, err := pki.MarshalKeyUsage(usage)
		return extension(t, ext, err)
	}
	withExtensions := func(exts ...pkix.Extension) []byte {
		return testpki.RequestPEM(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}, ExtraExtensions: exts})
	}
	tests := map[string]struct {
		req        signer.Request
		wantReason string
		mention    string
	}{
		"request is a CA, CSR is not": {
			req:        requestFor(withExtensions(bc(true)), false),
			wantReason: signer.ReasonBasicConstraintsMismatch,
			mention:    "experimental.cert-manager.io/request-is-ca",
		},
		"CSR is a CA, request is not": {
			req:        requestFor(withExtensions(bc(false)), true),
			wantReason: signer.ReasonBasicConstraintsMismatch,
			mention:    "IsCA false does not match expected value true",
		},
		"request key usage differs from spec.usages": {
			req:        requestFor(withExtensions(ku(x509.KeyUsageCertSign)), false, certificatesv1.UsageDigitalSignature),
			wantReason: signer.ReasonKeyUsageMismatch,
			mention:    "spec.usages",
		},
		"request key usage differs from the default usages": {
			req:        requestFor(withExtensions(ku(x509.KeyUsageDigitalSignature)), false),
			wantReason: signer.ReasonKeyUsageMismatch,
			mention:    "key encipherment",
		},
		"unknown usage": {
			req:        requestFor(withExtensions(), false, "teleport"),
			wantReason: signer.ReasonErrorGenerating,
			mention:    "spec.usages",
		},
		"unparsable request": {
			req:        requestFor([]byte("not a request"), false),
			wantReason: signer.ReasonErrorGenerating,
			mention:    "spec.request",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl, err := signer.CertificateTemplate(tc.req)
			pe, ok := signer.AsPermanent(err)
			if !ok {
				t.Fatalf("CertificateTemplate = %v, %v; want a permanent error", tmpl, err)
			}
			if pe.Reason != tc.wantReason {
				t.Errorf("reason = %q, want %q (%v)", pe.Reason, tc.wantReason, err)
			}
			if !strings.Contains(pe.Message, tc.mention) {
				t.Errorf("message %q does not mention %q", pe.Message, tc.mention)
			}
		})
	}
}

func TestCertificateTemplateAgreeingExtensionsPass(t *testing.T) {
	key := testpki.NewKey(t, testpki.Ed25519)
	bcExt, err := pki.MarshalBasicConstraints(true, nil)
	bcExt = extension(t, bcExt, err)
	kuExt, err := pki.MarshalKeyUsage(x509.KeyUsageCertSign | x509.KeyUsageCRLSign)
	kuExt = extension(t, kuExt, err)
	requestPEM := testpki.RequestPEM(t, key, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "sub-ca"}, ExtraExtensions: []pkix.Extension{bcExt, kuExt},
	})
	tmpl, err := signer.CertificateTemplate(requestFor(requestPEM, true, certificatesv1.UsageCertSign, certificatesv1.UsageCRLSign))
	if err != nil {
		t.Fatalf("CertificateTemplate error = %v", err)
	}
	if !tmpl.IsCA || tmpl.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("template isCA %t usages %b", tmpl.IsCA, tmpl.KeyUsage)
	}
}

// Caller bugs are plain errors: retried and logged, never a Failed condition blaming the CSR.
func TestCertificateTemplateCallerBugs(t *testing.T) {
	key := testpki.NewKey(t, testpki.ECDSA)
	noDuration := requestFor(testpki.RequestPEM(t, key, nil), false)
	noDuration.Duration = 0
	for name, req := range map[string]signer.Request{
		"no CSR":        {Duration: time.Hour},
		"zero duration": noDuration,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := signer.CertificateTemplate(req)
			if err == nil {
				t.Fatal("CertificateTemplate succeeded, want an error")
			}
			signertest.ExpectPlainError(t, err)
		})
	}
}

// Nothing the request carries beyond what the gate decided reaches the certificate: not its raw
// subject (attributes of types no policy governs), not its extensions (name constraints), not SAN
// types no policy field governs.
func TestCertificateTemplateCopiesNothingUndecided(t *testing.T) {
	key := testpki.NewKey(t, testpki.ECDSA)
	nameConstraints, err := pki.MarshalNameConstraints(&pki.NameConstraints{PermittedDNSDomains: []string{"example.com"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	title := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 12}, Value: "Root of all trust"}
	email := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "web@example.com"}
	csrPEM := testpki.RequestPEM(t, key, &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: "web", OrganizationalUnit: []string{"ops"}, ExtraNames: []pkix.AttributeTypeAndValue{title, email}},
		DNSNames:        []string{"web.example.com"},
		ExtraExtensions: []pkix.Extension{nameConstraints},
	})
	tmpl, err := signer.CertificateTemplate(requestFor(csrPEM, true, certificatesv1.UsageCertSign))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.ExtraExtensions) != 0 || len(tmpl.PermittedDNSDomains) != 0 || tmpl.RawSubject != nil {
		t.Errorf("template copies from the request: extra extensions %v, permitted domains %v, raw subject %x",
			tmpl.ExtraExtensions, tmpl.PermittedDNSDomains, tmpl.RawSubject)
	}
	root := testpki.NewRootCA(t, testpki.ECDSA, "root")
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Cert, key.Public(), root.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range leaf.Extensions {
		if ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 30}) {
			t.Error("the certificate carries the request's NameConstraints extension")
		}
	}
	var types []string
	for _, atv := range leaf.Subject.Names {
		types = append(types, atv.Type.String())
	}
	if want := []string{"2.5.4.11", "2.5.4.3", "1.2.840.113549.1.9.1"}; !slices.Equal(types, want) {
		t.Errorf("subject attribute types %v, want %v (OU, CN, emailAddress; no title)", types, want)
	}
	if !slices.Equal(leaf.DNSNames, []string{"web.example.com"}) {
		t.Errorf("DNS names %v", leaf.DNSNames)
	}
}

// What goes upstream is the request the gate judged, alone: text and other PEM blocks around it in
// spec.request, which the API server and the gate skip, stay behind.
func TestRequestPEMIsTheJudgedRequestAlone(t *testing.T) {
	key := testpki.NewKey(t, testpki.ECDSA)
	judged := testpki.RequestPEM(t, key, &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})
	block, _ := pem.Decode(judged)
	parsed, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	smuggled := append([]byte("Certificate Request:\n    Subject: CN=evil.example.com\n"), judged...)
	smuggled = append(smuggled, testpki.RequestPEM(t, key, &x509.CertificateRequest{DNSNames: []string{"evil.example.com"}})...)
	req := requestFor(smuggled, false)
	req.Parsed = parsed
	if got := req.RequestPEM(); !bytes.Equal(got, judged) {
		t.Errorf("RequestPEM = %q, want the judged request alone", got)
	}
}
