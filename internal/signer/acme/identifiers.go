package acme

import (
	"crypto/x509"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/go-acme/lego/v4/acme"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// orderIdentifiers returns the names to order, DNS names then IP addresses as the PKCS#10
// request lists them, or a *PermanentError when no ACME order can certify the request.
//
// The common-name rule is cert-manager's, compared the same case-sensitive way: ACME CAs put
// only validated identifiers in a certificate, so a common name that is not also a SAN would
// be dropped or refused at finalization; failing now tells the requester why.
func orderIdentifiers(req *x509.CertificateRequest, isCA bool) ([]string, error) {
	ips := make([]string, 0, len(req.IPAddresses))
	for _, ip := range req.IPAddresses {
		ips = append(ips, ip.String())
	}
	if cn := req.Subject.CommonName; cn != "" && !slices.Contains(req.DNSNames, cn) && !slices.Contains(ips, cn) {
		return nil, signer.Permanent(ReasonInvalidOrder,
			"the common name %q is not among the DNS names %v or IP addresses %v; ACME requires a common name to be one of them",
			cn, req.DNSNames, ips)
	}
	if len(req.EmailAddresses) > 0 || len(req.URIs) > 0 {
		return nil, signer.Permanent(ReasonInvalidOrder,
			"the request has email or URI SANs, which ACME cannot validate; only DNS names and IP addresses can be ordered")
	}
	// cert-manager's ACME signer would pass such a request on and hand back a leaf; refusing
	// keeps a requester from believing they hold a CA.
	if isCA {
		return nil, signer.Permanent(ReasonInvalidOrder, "ACME servers do not issue CA certificates")
	}
	names := append(slices.Clone(req.DNSNames), ips...)
	if len(names) == 0 {
		return nil, signer.Permanent(ReasonInvalidOrder, "the request names no DNS name or IP address to order")
	}
	return names, nil
}

// sameIdentifiers reports whether an order is for exactly names, so that an order URL copied
// onto another CSR's annotations cannot be used to finalize or download someone else's order.
func sameIdentifiers(names []string, ids []acme.Identifier) bool {
	want := make([]string, 0, len(names))
	for _, n := range names {
		want = append(want, strings.ToLower(n))
	}
	got := make([]string, 0, len(ids))
	for _, id := range ids {
		got = append(got, strings.ToLower(id.Value))
	}
	slices.Sort(want)
	slices.Sort(got)
	return slices.Equal(slices.Compact(want), slices.Compact(got))
}

// requested reports whether the CSR asks for an identifier: a DNS name among its DNS names (as
// "*.<value>" for a wildcard authorization) or an IP address among its IP addresses. The policy
// approved exactly those, so the signer presents and cleans up challenges for no other name,
// whatever an ACME server or an annotation says.
func requested(req *x509.CertificateRequest, typ, value string, wildcard bool) bool {
	switch typ {
	case "dns":
		if wildcard {
			value = "*." + value
		}
		return slices.ContainsFunc(req.DNSNames, func(n string) bool { return strings.EqualFold(n, value) })
	case "ip":
		ip := net.ParseIP(value)
		return ip != nil && !wildcard && slices.ContainsFunc(req.IPAddresses, ip.Equal)
	}
	return false
}

// identifierType is the ACME identifier type of a value: RFC 8738 keeps IP addresses out of
// "dns" identifiers, so a value that parses as one is an "ip" identifier.
func identifierType(value string) string {
	if isIP(value) {
		return "ip"
	}
	return "dns"
}

// sameOrigin reports whether raw has the scheme, host and port of the directory URL: the only
// server the signer sends its account's signed requests to or takes orders from.
func sameOrigin(directory, raw string) bool {
	d, err := url.Parse(directory)
	if err != nil {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	return strings.EqualFold(d.Scheme, u.Scheme) && strings.EqualFold(d.Hostname(), u.Hostname()) && port(d) == port(u)
}

// port is the URL's port, the scheme's default when it names none.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

func isIP(value string) bool { return net.ParseIP(value) != nil }
