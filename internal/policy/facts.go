package policy

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	csrutil "github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// facts are what the checks need from a request that does not depend on the policy; computing
// them once keeps evaluation against many policies cheap.
//
// Names and subject values come from the encoded CSR (its subjectAltName extension and
// Subject.Names), so a CSR must be one crypto/x509 parsed.
type facts struct {
	id       identity
	groups   []string
	subject  subjectValues
	dnsNames []requestedValue
	// emails holds the SAN email addresses, then the subject's emailAddress attributes.
	emails []requestedValue
	uris   []requestedValue
	ips    []ipSAN
	// ungovernedExtensions refuses the extensions and SAN entries no policy field governs.
	ungovernedExtensions field.ErrorList
	ca                   caExtension
	usageExt             usageExtensions
	key                  keyFacts
}

// ipSAN keeps the CSR's text for an address that netip cannot read, so the refusal can show it.
type ipSAN struct {
	addr netip.Addr
	ok   bool
	text string
}

func factsOf(req *Request) facts {
	csr := req.CSR
	f := facts{id: identityOf(req.Requester), groups: req.Requester.Groups}
	if ref, err := csrutil.ParseSignerName(req.SignerName); err == nil && ref.Kind == v1alpha1.IssuerKindIssuer {
		f.id.issuerNamespace = ref.Namespace
	}
	if csr == nil {
		return f
	}
	f.ca, f.usageExt, f.key = caExtensionOf(csr), usageExtensionsOf(csr, req.Usages), keyFactsOf(csr)
	f.subject = subjectValuesOf(csr.Subject.Names)
	var sans subjectAltNames
	sans, f.ungovernedExtensions = extensionsOf(csr)
	f.dnsNames, f.uris = sans.dnsNames, sans.uris
	f.emails = append(sans.emails, f.subject.byField["emailAddresses"]...)
	for _, ip := range csr.IPAddresses {
		a, ok := netip.AddrFromSlice(ip)
		f.ips = append(f.ips, ipSAN{addr: a.Unmap(), ok: ok, text: ip.String()})
	}
	return f
}

// Key algorithm names, spelled as the fields of spec.privateKey.
const (
	keyRSA     = "rsa"
	keyECDSA   = "ecdsa"
	keyEd25519 = "ed25519"
)

type keyFacts struct {
	algorithm string // one of the key* names, or the x509 name of anything else
	bits      int
}

func keyFactsOf(csr *x509.CertificateRequest) keyFacts {
	switch pub := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		return keyFacts{algorithm: keyRSA, bits: pub.N.BitLen()}
	case *ecdsa.PublicKey:
		return keyFacts{algorithm: keyECDSA, bits: pub.Curve.Params().BitSize}
	case ed25519.PublicKey:
		return keyFacts{algorithm: keyEd25519, bits: 256}
	}
	return keyFacts{algorithm: csr.PublicKeyAlgorithm.String()}
}
