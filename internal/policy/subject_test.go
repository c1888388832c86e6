package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// The attribute types, spelled out here rather than taken from the code under test.
var (
	oidCommonName         = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSerialNumber       = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidCountry            = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidLocality           = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidProvince           = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidStreetAddress      = asn1.ObjectIdentifier{2, 5, 4, 9}
	oidOrganization       = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrganizationalUnit = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidPostalCode         = asn1.ObjectIdentifier{2, 5, 4, 17}
	oidEmailAddress       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

func attr(oid asn1.ObjectIdentifier, v any) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: v}
}

// Every subject attribute is checked against its own field, each value of it, and an attribute
// the policy does not name must be absent.
func TestSubjectAttributes(t *testing.T) {
	everything := v1alpha1.Allowed{
		CommonName: []string{"web"}, Organizations: []string{"Team A"}, OrganizationalUnits: []string{"Ops *"},
		Countries: []string{"DE"}, Provinces: []string{"Berlin"}, Localities: []string{"Berlin"},
		StreetAddresses: []string{"Main St *"}, PostalCodes: []string{"10*"}, SerialNumbers: []string{"$(requester.username)"},
		EmailAddresses: []string{"*@example.com"},
	}
	full := []pkix.AttributeTypeAndValue{
		attr(oidCommonName, "web"), attr(oidOrganization, "Team A"), attr(oidOrganizationalUnit, "Ops Berlin"),
		attr(oidCountry, "DE"), attr(oidProvince, "Berlin"), attr(oidLocality, "Berlin"),
		attr(oidStreetAddress, "Main St 1"), attr(oidPostalCode, "10115"), attr(oidSerialNumber, "alice"),
		attr(oidEmailAddress, "web@example.com"),
	}
	tests := []struct {
		name    string
		allowed v1alpha1.Allowed
		subject []pkix.AttributeTypeAndValue
		want    []string
	}{
		{name: "every governed attribute allowed", allowed: everything, subject: full},
		{name: "every governed attribute refused when the policy names none", subject: full, want: []string{
			"spec.allowed.commonName FieldValueInvalid", "spec.allowed.emailAddresses FieldValueInvalid",
			"spec.allowed.organizations FieldValueInvalid", "spec.allowed.organizationalUnits FieldValueInvalid",
			"spec.allowed.countries FieldValueInvalid", "spec.allowed.provinces FieldValueInvalid",
			"spec.allowed.localities FieldValueInvalid", "spec.allowed.streetAddresses FieldValueInvalid",
			"spec.allowed.postalCodes FieldValueInvalid", "spec.allowed.serialNumbers FieldValueInvalid",
		}},
		{name: "a second common name is checked too, even behind an allowed one", allowed: everything,
			subject: []pkix.AttributeTypeAndValue{attr(oidCommonName, "evil"), attr(oidCommonName, "web")},
			want:    []string{"spec.allowed.commonName FieldValueInvalid"}},
		{name: "a system identity in a second common name", allowed: v1alpha1.Allowed{CommonName: []string{"*"}},
			subject: []pkix.AttributeTypeAndValue{attr(oidCommonName, "system:masters"), attr(oidCommonName, "web")},
			want:    []string{"spec.allowed.commonName FieldValueForbidden"}},
		{name: "each value of a repeated attribute is checked", allowed: everything,
			subject: []pkix.AttributeTypeAndValue{attr(oidOrganizationalUnit, "Ops A"), attr(oidOrganizationalUnit, "Dev A")},
			want:    []string{"spec.allowed.organizationalUnits FieldValueInvalid"}},
		{name: "the placeholder is the requester's, not anyone's", allowed: everything,
			subject: []pkix.AttributeTypeAndValue{attr(oidSerialNumber, "bob")},
			want:    []string{"spec.allowed.serialNumbers FieldValueInvalid"}},
		{name: "emailAddress attribute outside the allowlist", allowed: everything,
			subject: []pkix.AttributeTypeAndValue{attr(oidEmailAddress, "evil@evil.com")},
			want:    []string{"spec.allowed.emailAddresses FieldValueInvalid"}},
		{name: "emailAddress attribute must be a bare address", allowed: everything,
			subject: []pkix.AttributeTypeAndValue{attr(oidEmailAddress, "Web <web@example.com>")},
			want:    []string{"spec.allowed.emailAddresses FieldValueInvalid"}},
		{name: "control character in a value", allowed: v1alpha1.Allowed{Organizations: []string{"*"}},
			subject: []pkix.AttributeTypeAndValue{attr(oidOrganization, "Team\nA")},
			want:    []string{"spec.allowed.organizations FieldValueInvalid"}},
		{name: "NUL in a common name a wildcard would match", allowed: v1alpha1.Allowed{CommonName: []string{"*.example.com"}},
			subject: []pkix.AttributeTypeAndValue{attr(oidCommonName, "web\x00.example.com")},
			want:    []string{"spec.allowed.commonName FieldValueInvalid"}},
		{name: "C1 control character in a value", allowed: v1alpha1.Allowed{Localities: []string{"*"}},
			subject: []pkix.AttributeTypeAndValue{attr(oidLocality, "Berlin\u0085")},
			want:    []string{"spec.allowed.localities FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.Allowed = tt.allowed
			req := baseRequest(t, &x509.CertificateRequest{RawSubject: rawSubject(t, tt.subject...)})
			assertFields(t, violations(&p, req), tt.want...)
		})
	}
}

func TestSubjectAttributeDetails(t *testing.T) {
	p := basePolicy("p")
	p.Spec.Allowed = v1alpha1.Allowed{CommonName: []string{"*"}, OrganizationalUnits: []string{"*"}}
	req := baseRequest(t, &x509.CertificateRequest{RawSubject: rawSubject(t,
		attr(oidCommonName, "a\x00b"),
		attr(oidOrganizationalUnit, "Ops\nsystem:masters"),
	)})
	msg := violations(&p, req).ToAggregate().Error()
	for _, want := range []string{
		`spec.allowed.commonName: Invalid value: "a\x00b": holds a control character`,
		`spec.allowed.organizationalUnits: Invalid value: "Ops\nsystem:masters": holds a control character`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q\ndoes not contain %q", msg, want)
		}
	}
}

// Attribute types no field governs are refused whatever the policy allows, naming the type.
func TestUngovernedSubjectAttributes(t *testing.T) {
	allowAll := v1alpha1.Allowed{CommonName: []string{"*"}}
	tests := []struct {
		name      string
		attribute pkix.AttributeTypeAndValue
		detail    string
	}{
		{"title", attr(asn1.ObjectIdentifier{2, 5, 4, 12}, "CEO"), "holds an attribute of type 2.5.4.12, which no SignerPolicy field governs"},
		{"UID", attr(asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, "alice"), "type 0.9.2342.19200300.100.1.1"},
		{"domainComponent", attr(asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, "com"), "type 0.9.2342.19200300.100.1.25"},
		{"unknown OID", attr(asn1.ObjectIdentifier{1, 2, 3, 4}, "x"), "type 1.2.3.4"},
		{"common name that is not a string", attr(oidCommonName, 42), "subject attribute of type 2.5.4.3 holds a value that is not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.Allowed = allowAll
			req := baseRequest(t, &x509.CertificateRequest{RawSubject: rawSubject(t, attr(oidCommonName, "web"), tt.attribute)})
			errs := violations(&p, req)
			assertFields(t, errs, "spec.request FieldValueForbidden")
			if msg := errs.ToAggregate().Error(); !strings.Contains(msg, tt.detail) {
				t.Errorf("message %q\ndoes not contain %q", msg, tt.detail)
			}
		})
	}
}
