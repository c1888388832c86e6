package policy

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// attribute is one subject or SAN attribute of a CSR with the patterns that govern it.
type attribute struct {
	field    string // JSON name under spec.allowed
	patterns []string
	values   []string
	kind     matchKind
	// systemIdentities marks attributes the API server treats as Kubernetes identities.
	systemIdentities bool
}

func (ev *evaluation) checkAllowed(allowed *v1alpha1.Allowed) field.ErrorList {
	csr := ev.req.CSR
	attributes := [...]attribute{
		{field: "commonName", patterns: allowed.CommonName, values: ev.facts.commonNames, kind: matchExact, systemIdentities: true},
		{field: "dnsNames", patterns: allowed.DNSNames, values: csr.DNSNames, kind: matchDNS},
		{field: "uris", patterns: allowed.URIs, values: ev.facts.uris, kind: matchExact},
		{field: "emailAddresses", patterns: allowed.EmailAddresses, values: csr.EmailAddresses, kind: matchEmail},
		{field: "organizations", patterns: allowed.Organizations, values: csr.Subject.Organization, kind: matchExact, systemIdentities: true},
	}
	var errs field.ErrorList
	for i := range attributes {
		errs = append(errs, ev.checkAttribute(&attributes[i])...)
	}
	return append(errs, checkIPAddresses(allowed.IPAddresses, ev.facts.ips)...)
}

func (ev *evaluation) checkAttribute(a *attribute) field.ErrorList {
	var errs field.ErrorList
	for _, v := range a.values {
		switch {
		case a.systemIdentities && isSystemIdentity(v) && !listsExactly(a.patterns, v):
			errs = append(errs, systemIdentityError(a.field, v))
		case len(a.patterns) == 0:
			errs = append(errs, field.Invalid(allowedPath(a.field), v,
				fmt.Sprintf("the policy lists no %s, so the CSR must not request any", a.field)))
		case !ev.m.matchAny(a.patterns, v, a.kind):
			errs = append(errs, field.Invalid(allowedPath(a.field), v, "matches none of the allowed patterns"))
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
