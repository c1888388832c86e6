package controllers

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// lifetimeSlack absorbs clock skew between this operator and an upstream CA, and the time the
// upstream took, when comparing a certificate's notAfter with the decided lifetime.
const lifetimeSlack = 5 * time.Minute

// checkIssued compares the certificate a signer returned with what the gate decided, so that a
// certificate with less than was approved (a usage or name an upstream would not give) or more
// (a name, the CA flag, a longer life, a usage or system identity the policy does not allow, a
// critical extension) is never delivered. It returns what differs, in words, or "" when the
// certificate is what was decided. What an upstream may add of its own (key usage bits, subject
// attributes such as a Venafi zone's O and OU, extended usages the policy allows) is delivered,
// and docs/reference.md says so.
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
	if g.policy != nil {
		if extra := unallowedExtUsages(policy.AllowedUsages(&g.policy.Spec), leaf); len(extra) > 0 {
			add("it holds the extended key usages %s, which SignerPolicy %q does not allow", strings.Join(extra, ", "), g.policy.Name)
		}
	}
	for _, v := range addedSystemIdentities(g.parsed.Subject, leaf.Subject) {
		add("its subject holds %q, a Kubernetes system identity the CSR did not request", v)
	}
	for _, oid := range leaf.UnhandledCriticalExtensions {
		add("it carries the critical extension %s, which nobody decided", oid)
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

// unallowedExtUsages lists the certificate's extended key usages the policy does not allow: an
// upstream may add usages of its own, but never past the requester's policy.
func unallowedExtUsages(allowed []policyv1alpha1.KeyUsage, leaf *x509.Certificate) []string {
	var extra []string
	for i, name := range apiutil.ExtKeyUsageStrings(leaf.ExtKeyUsage) {
		switch {
		case name == "unknown": // one Go knows and the CSR API has no name for
			extra = append(extra, fmt.Sprintf("x509.ExtKeyUsage(%d)", leaf.ExtKeyUsage[i]))
		case !slices.Contains(allowed, policyv1alpha1.KeyUsage(name)):
			extra = append(extra, string(name))
		}
	}
	for _, oid := range leaf.UnknownExtKeyUsage {
		extra = append(extra, oid.String())
	}
	return extra
}

// addedSystemIdentities lists the subject values of the issued certificate that Kubernetes would
// read as its own identities (system:masters is cluster-admin) and that the request did not hold:
// the policy allowed only what the request held.
func addedSystemIdentities(requested, issued pkix.Name) []string {
	var added []string
	for _, atv := range issued.Names {
		if !policy.IsSystemIdentityAttribute(atv) {
			continue
		}
		if !slices.ContainsFunc(requested.Names, func(r pkix.AttributeTypeAndValue) bool { return r.Type.Equal(atv.Type) && r.Value == atv.Value }) {
			added = append(added, atv.Value.(string))
		}
	}
	return added
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
