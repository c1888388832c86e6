package policy

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// attribute is one subject or SAN attribute of a CSR with the patterns that govern it.
type attribute struct {
	field    string // JSON name under spec.allowed
	patterns []string
	values   []requestedValue
	kind     matchKind
	// systemIdentities marks attributes the API server treats as Kubernetes identities.
	systemIdentities bool
}

func (ev *evaluation) checkAllowed(allowed *v1alpha1.Allowed) field.ErrorList {
	f, s := &ev.facts, &ev.facts.subject
	attributes := [...]attribute{
		{field: "commonName", patterns: allowed.CommonName, values: s.commonNames, kind: matchExact, systemIdentities: true},
		{field: "dnsNames", patterns: allowed.DNSNames, values: f.dnsNames, kind: matchDNS},
		{field: "uris", patterns: allowed.URIs, values: f.uris, kind: matchExact},
		{field: "emailAddresses", patterns: allowed.EmailAddresses, values: f.emails, kind: matchEmail},
		{field: "organizations", patterns: allowed.Organizations, values: s.organizations, kind: matchExact, systemIdentities: true},
		{field: "organizationalUnits", patterns: allowed.OrganizationalUnits, values: s.organizationalUnits, kind: matchExact, systemIdentities: true},
		{field: "countries", patterns: allowed.Countries, values: s.countries, kind: matchExact},
		{field: "provinces", patterns: allowed.Provinces, values: s.provinces, kind: matchExact},
		{field: "localities", patterns: allowed.Localities, values: s.localities, kind: matchExact},
		{field: "streetAddresses", patterns: allowed.StreetAddresses, values: s.streetAddresses, kind: matchExact},
		{field: "postalCodes", patterns: allowed.PostalCodes, values: s.postalCodes, kind: matchExact},
		{field: "serialNumbers", patterns: allowed.SerialNumbers, values: s.serialNumbers, kind: matchExact},
	}
	var errs field.ErrorList
	for i := range attributes {
		errs = append(errs, ev.checkAttribute(&attributes[i])...)
	}
	errs = append(errs, checkIPAddresses(allowed.IPAddresses, f.ips)...)
	return append(errs, s.ungoverned...)
}

// checkAttribute refuses a malformed value before any pattern sees it: a pattern describes names
// of one kind, and a value that is not of that kind must not match it by accident.
func (ev *evaluation) checkAttribute(a *attribute) field.ErrorList {
	var errs field.ErrorList
	for i := range a.values {
		v := &a.values[i]
		switch {
		case v.malformed != "":
			errs = append(errs, field.Invalid(allowedPath(a.field), v.text, v.malformed))
		case a.systemIdentities && isSystemIdentity(v.text) && !listsExactly(a.patterns, v.text):
			errs = append(errs, systemIdentityError(a.field, v.text))
		case len(a.patterns) == 0:
			errs = append(errs, field.Invalid(allowedPath(a.field), v.text,
				fmt.Sprintf("the policy lists no %s, so the CSR must not request any", a.field)))
		case v.wildcard && !ev.m.matchWildcardAny(a.patterns, v.text):
			errs = append(errs, field.Invalid(allowedPath(a.field), v.text,
				"matches none of the allowed patterns whose own leftmost label is *, which alone allow a wildcard name"))
		case !v.wildcard && !ev.m.matchAny(a.patterns, v.text, a.kind):
			errs = append(errs, field.Invalid(allowedPath(a.field), v.text, "matches none of the allowed patterns"))
		}
	}
	return errs
}

func checkIPAddresses(cidrs []string, ips []ipSAN) field.ErrorList {
	var errs field.ErrorList
	for _, ip := range ips {
		switch {
		case len(cidrs) == 0:
			errs = append(errs, field.Invalid(allowedPath("ipAddresses"), ip.text,
				"the policy lists no ipAddresses, so the CSR must not request any"))
		case !ip.ok || !withinAny(cidrs, ip.addr):
			errs = append(errs, field.Invalid(allowedPath("ipAddresses"), ip.text, "lies within none of the allowed CIDRs"))
		}
	}
	return errs
}

// withinAny skips a CIDR it cannot parse rather than failing the whole list: validation keeps
// such entries out, and skipping one can only refuse more, never allow more.
func withinAny(cidrs []string, addr netip.Addr) bool {
	for _, c := range cidrs {
		prefix, err := netip.ParsePrefix(c)
		if err == nil && prefix.Contains(addr) {
			return true
		}
	}
	return false
}

func allowedPath(name string) *field.Path {
	return field.NewPath("spec", "allowed", name)
}

// Subject attribute types a policy governs: X.520's, and PKCS #9's emailAddress.
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

// subjectValues are the CSR's subject attribute values by the spec.allowed field that governs
// them. Every attribute counts, not only the last of its type as pkix.Name's fields keep, so a
// second common name cannot hide behind an allowed one.
type subjectValues struct {
	commonNames, serialNumbers, countries, localities, provinces, streetAddresses,
	organizations, organizationalUnits, postalCodes, emails []requestedValue
	// ungoverned refuses attributes of a type no field governs, and values that are not strings.
	ungoverned field.ErrorList
}

func subjectValuesOf(names []pkix.AttributeTypeAndValue) subjectValues {
	var s subjectValues
	for _, atv := range names {
		text, isString := atv.Value.(string)
		values, validated := s.fieldFor(atv.Type)
		switch {
		case values == nil:
			s.ungoverned = append(s.ungoverned, field.Forbidden(requestPath(), fmt.Sprintf(
				"the CSR's subject holds an attribute of type %s, which no SignerPolicy field governs", atv.Type)))
		case !isString:
			s.ungoverned = append(s.ungoverned, field.Forbidden(requestPath(), fmt.Sprintf(
				"the CSR's subject attribute of type %s holds a value that is not a string", atv.Type)))
		default:
			*values = append(*values, validated(text))
		}
	}
	return s
}

// fieldFor returns where values of attribute type t go and how they are validated, or nil for a
// type no field governs. An emailAddress attribute is an email address wherever it appears.
func (s *subjectValues) fieldFor(t asn1.ObjectIdentifier) (*[]requestedValue, func(string) requestedValue) {
	switch {
	case t.Equal(oidCommonName):
		return &s.commonNames, subjectValue
	case t.Equal(oidSerialNumber):
		return &s.serialNumbers, subjectValue
	case t.Equal(oidCountry):
		return &s.countries, subjectValue
	case t.Equal(oidLocality):
		return &s.localities, subjectValue
	case t.Equal(oidProvince):
		return &s.provinces, subjectValue
	case t.Equal(oidStreetAddress):
		return &s.streetAddresses, subjectValue
	case t.Equal(oidOrganization):
		return &s.organizations, subjectValue
	case t.Equal(oidOrganizationalUnit):
		return &s.organizationalUnits, subjectValue
	case t.Equal(oidPostalCode):
		return &s.postalCodes, subjectValue
	case t.Equal(oidEmailAddress):
		return &s.emails, emailValue
	}
	return nil, nil
}
