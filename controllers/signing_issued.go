package controllers

import (
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"
)

// lifetimeSlack absorbs clock skew between this operator and an upstream CA, and the time the
// upstream took, when comparing a certificate's notAfter with the decided lifetime.
const lifetimeSlack = 5 * time.Minute

// checkIssued compares the certificate a signer returned with what the gate decided, so that a
// certificate with less than was approved (a usage or name an upstream would not give) or more
// (a name, the CA flag, a longer life) is never delivered. It returns what differs, in words, or
// "" when the certificate is what was decided. Key usage bits and extra extended key usages are
// the upstream's own to add (Vault roles and Venafi zones set them), and docs/reference.md says so.
func checkIssued(g *grant, leaf *x509.Certificate, now time.Time) string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if ok, err := pki.PublicKeyMatchesCertificate(g.parsed.PublicKey, leaf); err != nil || !ok {
		add("it does not certify the CSR's public key")
	}
	if leaf.IsCA != g.isCA {
		add("its CA flag is %t, the approved request's is %t", leaf.IsCA, g.isCA)
	}
	compareNames(add, "DNS name", lowered(g.parsed.DNSNames), lowered(leaf.DNSNames))
	compareNames(add, "IP address", ipStrings(g.parsed.IPAddresses), ipStrings(leaf.IPAddresses))
	compareNames(add, "URI", pki.URLsToString(g.parsed.URIs), pki.URLsToString(leaf.URIs))
	compareNames(add, "email address", g.parsed.EmailAddresses, leaf.EmailAddresses)
	if missing := missingExtUsages(g.usages, leaf); len(missing) > 0 {
		add("it lacks the approved usages %s", strings.Join(missing, ", "))
	}
	// Compared as durations, so that a lifetime near the largest Go duration cannot overflow.
	if remaining := leaf.NotAfter.Sub(now); remaining > g.lifetime && remaining-g.lifetime > lifetimeSlack {
		add("it is valid until %s, beyond the granted lifetime of %s", leaf.NotAfter.UTC().Format(time.RFC3339), g.lifetime)
	}
	if len(problems) == 0 {
		return ""
	}
	return "the issued certificate is not what was approved, so it is not delivered: " + strings.Join(problems, "; ")
}

// compareNames reports names the request asked for that the certificate lacks, and names the
// certificate holds that nobody asked for.
func compareNames(add func(string, ...any), kind string, requested, issued []string) {
	for _, n := range requested {
		if !slices.Contains(issued, n) {
			add("it lacks the requested %s %q", kind, n)
		}
	}
	for _, n := range issued {
		if !slices.Contains(requested, n) {
			add("it holds the %s %q, which the CSR did not request", kind, n)
		}
	}
}

// missingExtUsages lists the approved extended key usages the certificate lacks. A certificate
// with no extended key usage extension at all is valid for any purpose, so it lacks none.
func missingExtUsages(usages []certificatesv1.KeyUsage, leaf *x509.Certificate) []string {
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		return nil
	}
	var missing []string
	for _, u := range usages {
		eku, ok := apiutil.ExtKeyUsageTypeKube(u)
		if ok && !slices.Contains(leaf.ExtKeyUsage, eku) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
			missing = append(missing, string(u))
		}
	}
	return missing
}

func lowered(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(n)
	}
	return out
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}
