package policy

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/netip"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// attribute is one subject or SAN attribute of a CSR with the patterns that govern it.
type attribute struct {
	field    string // JSON name under spec.allowed
	patterns []string
	values   []requestedValue
	kind     matchKind
}

func (ev *evaluation) checkAllowed(allowed *v1alpha1.Allowed) field.ErrorList {
	f, s := &ev.facts, &ev.facts.subject
	attributes := [...]attribute{
		{field: "commonName", patterns: allowed.CommonName, kind: matchExact},
		{field: "dnsNames", patterns: allowed.DNSNames, values: f.dnsNames, kind: matchDNS},
		{field: "uris", patterns: allowed.URIs, values: f.uris, kind: matchExact},
		{field: "emailAddresses", patterns: allowed.EmailAddresses, values: f.emails, kind: matchEmail},
		{field: "organizations", patterns: allowed.Organizations, kind: matchExact},
		{field: "organizationalUnits", patterns: allowed.OrganizationalUnits, kind: matchExact},
		{field: "countries", patterns: allowed.Countries, kind: matchExact},
		{field: "provinces", patterns: allowed.Provinces, kind: matchExact},
		{field: "localities", patterns: allowed.Localities, kind: matchExact},
		{field: "streetAddresses", patterns: allowed.StreetAddresses, kind: matchExact},
		{field: "postalCodes", patterns: allowed.PostalCodes, kind: matchExact},
		{field: "serialNumbers", patterns: allowed.SerialNumbers, kind: matchExact},
	}
	var errs field.ErrorList
	for i := range attributes {
		// Rows without values of their own are subject attributes.
		if a := &attributes[i]; a.values == nil {
			a.values = s.byField[a.field]
		}
		errs = append(errs, ev.checkAttribute(&attributes[i])...)
	}
	errs = append(errs, checkIPAddresses(allowed.IPAddresses, f.ips)...)
	errs = append(errs, checkRequired(allowed.Required, attributes[:], len(f.ips))...)
	return append(errs, s.ungoverned...)
}

// checkRequired refuses a CSR that holds no value of an attribute the policy requires.
func checkRequired(required []v1alpha1.AttributeName, attributes []attribute, ips int) field.ErrorList {
	var errs field.ErrorList
	for _, name := range required {
		present := name == "ipAddresses" && ips > 0
		for i := range attributes {
			present = present || (attributes[i].field == string(name) && len(attributes[i].values) > 0)
		}
		if !present {
			errs = append(errs, field.Required(allowedPath(string(name)),
				fmt.Sprintf("the policy requires at least one value of %s (spec.allowed.required), and the CSR has none", name)))
		}
	}
	return errs
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
		case holdsSystemIdentities(a.field) && isSystemIdentity(v.text) && !listsExactly(a.patterns, v.text):
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

// subjectFields names the spec.allowed field that governs each subject attribute type a policy
// governs, by the type's dotted OID: X.520's, and PKCS #9's emailAddress.
var subjectFields = map[string]string{
	oid(pki.OIDConstants.CommonName):         "commonName",
	oid(pki.OIDConstants.SerialNumber):       "serialNumbers",
	oid(pki.OIDConstants.Country):            "countries",
	oid(pki.OIDConstants.Locality):           "localities",
	oid(pki.OIDConstants.Province):           "provinces",
	oid(pki.OIDConstants.StreetAddress):      "streetAddresses",
	oid(pki.OIDConstants.Organization):       "organizations",
	oid(pki.OIDConstants.OrganizationalUnit): "organizationalUnits",
	// postalCode, which cert-manager names no constant for.
	asn1.ObjectIdentifier{2, 5, 4, 17}.String(): "postalCodes",
	csr.OIDEmailAddress.String():                "emailAddresses",
}

func oid(arcs []int) string { return asn1.ObjectIdentifier(arcs).String() }

// holdsSystemIdentities reports whether the API server, or a proxy in front of it, may read
// values of the spec.allowed field name as Kubernetes users or groups.
func holdsSystemIdentities(name string) bool {
	return name == "commonName" || name == "organizations" || name == "organizationalUnits"
}

// subjectValues are the CSR's subject attribute values by the spec.allowed field that governs
// them. Every attribute counts, not only the last of its type as pkix.Name's fields keep, so a
// second common name cannot hide behind an allowed one.
type subjectValues struct {
	byField map[string][]requestedValue
	// ungoverned refuses attributes of a type no field governs, and values that are not strings.
	ungoverned field.ErrorList
}

// subjectValuesOf validates each value as its field's kind of name: an emailAddress attribute is
// an email address wherever it appears.
func subjectValuesOf(names []pkix.AttributeTypeAndValue) subjectValues {
	s := subjectValues{byField: map[string][]requestedValue{}}
	for _, atv := range names {
		text, isString := atv.Value.(string)
		name, governed := subjectFields[atv.Type.String()]
		switch {
		case !governed:
			s.ungoverned = append(s.ungoverned, field.Forbidden(requestPath(), fmt.Sprintf(
				"the CSR's subject holds an attribute of type %s, which no SignerPolicy field governs", atv.Type)))
		case !isString:
			s.ungoverned = append(s.ungoverned, field.Forbidden(requestPath(), fmt.Sprintf(
				"the CSR's subject attribute of type %s holds a value that is not a string", atv.Type)))
		case name == "emailAddresses":
			s.byField[name] = append(s.byField[name], emailValue(text))
		default:
			s.byField[name] = append(s.byField[name], subjectValue(text))
		}
	}
	return s
}
