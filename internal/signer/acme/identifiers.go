package acme

import (
	"crypto/x509"
	"net"
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

func isIP(value string) bool { return net.ParseIP(value) != nil }
