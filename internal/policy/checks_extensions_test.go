package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// SAN entries of a kind no policy field governs are refused, naming the kind, rather than
// dropped by a parser that does not know them.
func TestUngovernedSANTypes(t *testing.T) {
	directoryName, err := asn1.Marshal(pkix.Name{CommonName: "admin"}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	otherName, err := asn1.Marshal(struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue `asn1:"explicit,tag:0"`
	}{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("admin@corp")}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		san    asn1.RawValue
		detail string
	}{
		{"otherName (a Microsoft UPN)", generalName(sanOtherName, true, string(otherName[2:])), "holds an otherName"},
		{"x400Address", generalName(sanX400Address, true, ""), "holds an x400Address"},
		{"directoryName", generalName(sanDirectoryName, true, string(directoryName)), "holds a directoryName"},
		{"ediPartyName", generalName(sanEDIPartyName, true, ""), "holds an ediPartyName"},
		{"registeredID", generalName(sanRegisteredID, false, "\x2a\x03"), "holds a registeredID"},
		{"DNS name encoded as constructed", generalName(sanDNS, true, ""), "an entry of tag [2] that is not a valid GeneralName"},
		{"unknown tag", generalName(9, false, "x"), "an entry of tag [9]"},
		{"universal-class entry", asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte("web.example.com")},
			"holds an entry that is not a GeneralName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := allowing("p")
			ext := sanExtension(t, generalName(sanDNS, false, "web.team-a.example.com"), tt.san)
			req := baseRequest(t, &x509.CertificateRequest{Subject: baseTemplate().Subject, ExtraExtensions: []pkix.Extension{ext}})
			errs := violations(&p, req)
			assertFields(t, errs, "spec.request FieldValueForbidden")
			if msg := errs.ToAggregate().Error(); !strings.Contains(msg, tt.detail) {
				t.Errorf("message %q\ndoes not contain %q", msg, tt.detail)
			}
		})
	}
}

// crypto/x509 reads a subjectAltName up to the end of its list and ignores what follows; the
// policy refuses it rather than guess what the bytes after it mean.
func TestSANExtensionWithTrailingData(t *testing.T) {
	ext := sanExtension(t, generalName(sanDNS, false, "web.team-a.example.com"))
	ext.Value = append(ext.Value, 0x82, 0x08, 'e', 'v', 'i', 'l', '.', 'c', 'o', 'm')
	p := allowing("p")
	req := baseRequest(t, &x509.CertificateRequest{Subject: baseTemplate().Subject, ExtraExtensions: []pkix.Extension{ext}})
	if got := req.CSR.DNSNames; len(got) != 1 {
		t.Fatalf("setup: crypto/x509 read DNS names %q, want only the one in the list", got)
	}
	errs := violations(&p, req)
	assertFields(t, errs, "spec.request FieldValueForbidden")
	if msg := errs.ToAggregate().Error(); !strings.Contains(msg, "is not a well-formed list of GeneralNames") {
		t.Errorf("message %q does not say the extension is malformed", msg)
	}
}

func TestExtensions(t *testing.T) {
	ku, err := pki.MarshalKeyUsage(x509.KeyUsageDigitalSignature)
	if err != nil {
		t.Fatal(err)
	}
	eku, err := pki.MarshalExtKeyUsage([]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := pki.MarshalBasicConstraints(false, nil)
	if err != nil {
		t.Fatal(err)
	}
	nameConstraints, err := asn1.Marshal(struct {
		Permitted []asn1.RawValue `asn1:"optional,tag:0"`
	}{[]asn1.RawValue{{FullBytes: mustMarshal(t, struct {
		Base asn1.RawValue
	}{generalName(sanDNS, false, "evil.com")})}}})
	if err != nil {
		t.Fatal(err)
	}
	ext := func(oid asn1.ObjectIdentifier, critical bool, value []byte) pkix.Extension {
		return pkix.Extension{Id: oid, Critical: critical, Value: value}
	}
	tests := []struct {
		name       string
		extensions []pkix.Extension
		detail     string
	}{
		{name: "the extensions the policy decides, and a subject key identifier", extensions: []pkix.Extension{
			ku, eku, bc, ext(oidExtensionSubjectKeyIdentifier, false, mustMarshal(t, []byte{1, 2, 3})),
		}},
		{name: "critical name constraints", extensions: []pkix.Extension{ext(pki.OIDExtensionNameConstraints, true, nameConstraints)},
			detail: "the CSR asks for the name constraints (2.5.29.30) extension, which no SignerPolicy field governs"},
		{name: "certificate policies", extensions: []pkix.Extension{ext(asn1.ObjectIdentifier{2, 5, 29, 32}, false, mustMarshal(t, []asn1.ObjectIdentifier{{2, 5, 29, 32, 0}}))},
			detail: "certificate policies (2.5.29.32)"},
		{name: "OCSP must-staple", extensions: []pkix.Extension{ext(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}, false, mustMarshal(t, []int{5}))},
			detail: "TLS feature (1.3.6.1.5.5.7.1.24)"},
		{name: "unknown extension", extensions: []pkix.Extension{ext(asn1.ObjectIdentifier{1, 2, 3, 4}, false, mustMarshal(t, "x"))},
			detail: "the CSR asks for the 1.2.3.4 extension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := allowing("p")
			template := baseTemplate()
			template.ExtraExtensions = tt.extensions
			errs := violations(&p, baseRequest(t, template))
			if tt.detail == "" {
				assertFields(t, errs)
				return
			}
			assertFields(t, errs, "spec.request FieldValueForbidden")
			if msg := errs.ToAggregate().Error(); !strings.Contains(msg, tt.detail) {
				t.Errorf("message %q\ndoes not contain %q", msg, tt.detail)
			}
		})
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// What no policy can grant is refused by every policy, however broad, alongside whatever else
// the policy refuses.
func TestUngovernedExtensionsAreRefusedByEveryPolicy(t *testing.T) {
	template := baseTemplate()
	template.DNSNames = append(template.DNSNames, "evil.com")
	template.ExtraExtensions = []pkix.Extension{{Id: pki.OIDExtensionNameConstraints, Critical: true, Value: mustMarshal(t, []int{})}}
	req := baseRequest(t, template)
	broad := allowing("broad")
	broad.Spec.Allowed = v1alpha1.Allowed{CommonName: []string{"*.*.example.com"}, DNSNames: []string{"*.*.example.com", "*.com"}}
	assertFields(t, violations(&broad, req), "spec.request FieldValueForbidden")
	narrow := allowing("narrow")
	assertFields(t, violations(&narrow, req), "spec.allowed.dnsNames FieldValueInvalid", "spec.request FieldValueForbidden")
}
