package acme

import (
	"crypto/x509"
	"slices"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"github.com/go-acme/lego/v4/acme"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// chooseChain returns the chain to deliver among the default one, served at defaultURL, and
// the alternates (RFC 8555 section 7.4.2), with cert-manager's preferredChain rule: the first
// chain whose topmost certificate was issued by a CA with that common name, the default chain
// first, then the alternates (in URL order, for determinism); the default when none matches.
func chooseChain(chains map[string]*acme.RawCertificate, defaultURL, preferred string) ([]byte, error) {
	def, ok := chains[defaultURL]
	if !ok || def == nil {
		return nil, signer.Permanent(ReasonOrderFailed, "the ACME server returned no certificate")
	}
	if preferred == "" {
		return def.Cert, nil
	}
	urls := []string{defaultURL}
	for url := range chains {
		if url != defaultURL {
			urls = append(urls, url)
		}
	}
	slices.Sort(urls[1:])
	for _, url := range urls {
		certs, err := pki.DecodeX509CertificateChainBytes(chains[url].Cert)
		if err != nil || len(certs) == 0 {
			continue
		}
		if certs[len(certs)-1].Issuer.CommonName == preferred {
			return chains[url].Cert, nil
		}
	}
	return def.Cert, nil
}

// verifyChain checks that the certificate certifies the CSR's key before it is handed to the
// requester: a server (or an order URL pointing elsewhere) that returns anything else must not
// deliver a certificate the requester cannot use.
func verifyChain(chainPEM []byte, req *x509.CertificateRequest) error {
	certs, err := pki.DecodeX509CertificateChainBytes(chainPEM)
	if err != nil || len(certs) == 0 {
		return signer.Permanent(ReasonOrderFailed, "the ACME server returned a certificate that does not parse")
	}
	if ok, err := pki.PublicKeyMatchesCSR(certs[0].PublicKey, req); err != nil || !ok {
		return signer.Permanent(ReasonOrderFailed, "the certificate the ACME server returned does not certify the CSR's public key")
	}
	return nil
}
