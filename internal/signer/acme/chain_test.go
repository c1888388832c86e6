package acme

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/go-acme/lego/v4/acme"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// chainVia issues a leaf for key from an intermediate under a root named rootCN and returns
// leaf and intermediate in PEM, as an ACME server delivers them.
func chainVia(t *testing.T, rootCN string, tmpl *x509.CertificateRequest, keyPEMRequest []byte) []byte {
	t.Helper()
	root := testpki.NewRootCA(t, testpki.ECDSA, rootCN)
	inter := root.NewIntermediate(t, testpki.ECDSA, "Intermediate")
	req := testpki.ParseRequest(t, keyPEMRequest)
	leaf := &x509.Certificate{SerialNumber: inter.Cert.SerialNumber, Subject: pkix.Name{CommonName: "leaf"}, DNSNames: tmpl.DNSNames,
		NotBefore: inter.Cert.NotBefore, NotAfter: inter.Cert.NotAfter}
	der, err := x509.CreateCertificate(nil, leaf, inter.Cert, req.PublicKey, inter.Key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pemCert(der), inter.CertPEM...)
}

func TestChooseChainAndVerify(t *testing.T) {
	key := testpki.NewKey(t, testpki.ECDSA)
	tmpl := &x509.CertificateRequest{DNSNames: []string{"a.example.com"}}
	reqPEM := testpki.RequestPEM(t, key, tmpl)
	req := testpki.ParseRequest(t, reqPEM)
	def, alt := chainVia(t, "Root X", tmpl, reqPEM), chainVia(t, "Root Y", tmpl, reqPEM)
	chains := map[string]*acme.RawCertificate{"https://ca/cert/1": {Cert: def}, "https://ca/cert/1/alt/1": {Cert: alt}}

	for preferred, want := range map[string][]byte{"": def, "Root X": def, "Root Y": alt, "Root Z": def} {
		got, err := chooseChain(chains, "https://ca/cert/1", preferred)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("preferred %q: got the wrong chain (%v)", preferred, err)
		}
	}
	if err := verifyChain(def, req); err != nil {
		t.Errorf("verifying a matching chain: %v", err)
	}
	other := testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), tmpl)
	if pe, ok := signer.AsPermanent(verifyChain(chainVia(t, "Root X", tmpl, other), req)); !ok || pe.Reason != ReasonOrderFailed {
		t.Errorf("a certificate for another key was accepted")
	}
	if _, err := chooseChain(chains, "https://ca/cert/missing", ""); err == nil {
		t.Error("a missing default chain was accepted")
	}
}
