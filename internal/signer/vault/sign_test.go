package vault

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// A Vault is trusted to sign, not to answer for the CSR: these are responses a misconfigured or
// hostile server could send, and each must fail the CSR rather than reach the requester.
func TestResponsesThatMustNotBeHandedOut(t *testing.T) {
	root := testpki.NewRootCA(t, testpki.ECDSA, "root")
	inter := root.NewIntermediate(t, testpki.ECDSA, "intermediate")
	other := testpki.NewRootCA(t, testpki.ECDSA, "another root")
	key := testpki.NewKey(t, testpki.ECDSA)
	req := requestFor(t, key, &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})
	leafFor := func(tmpl x509.Certificate, pub crypto.PublicKey, ca *testpki.CA) string {
		return issueLeaf(t, &tmpl, pub, ca)
	}
	good := x509.Certificate{DNSNames: []string{"web.example.com"}}

	cases := []struct {
		name string
		data map[string]any
		want string
	}{
		{name: "no certificate", data: map[string]any{"issuing_ca": string(inter.CertPEM)}, want: "data.certificate is missing"},
		{name: "another key", data: map[string]any{"certificate": leafFor(good, testpki.NewKey(t, testpki.ECDSA).Public(), inter)},
			want: "public key is not the CSR's"},
		{name: "a name not requested", data: map[string]any{"certificate": leafFor(x509.Certificate{DNSNames: []string{"web.example.com", "evil.example.com"}}, key.Public(), inter)},
			want: "DNS:evil.example.com, which the CSR did not request"},
		{name: "an IP not requested", data: map[string]any{"certificate": leafFor(x509.Certificate{DNSNames: []string{"web.example.com"}, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}}, key.Public(), inter)},
			want: "IP:10.0.0.1"},
		{name: "a CA certificate", data: map[string]any{"certificate": leafFor(x509.Certificate{DNSNames: []string{"web.example.com"}, IsCA: true, BasicConstraintsValid: true}, key.Public(), inter)},
			want: "isCA=true"},
		{name: "a chain of another CA", data: map[string]any{"certificate": leafFor(good, key.Public(), inter), "issuing_ca": string(other.CertPEM)},
			want: "malformed or broken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chainFromResponse(&vaultapi.Secret{Data: tc.data}, req, issuerName{kind: "Issuer", namespace: "ns", name: "vault"})
			pe, ok := signer.AsPermanent(err)
			if !ok || pe.Reason != ReasonErrorSigning || !strings.Contains(pe.Message, tc.want) {
				t.Fatalf("got %v, want permanent ErrorSigning mentioning %q", err, tc.want)
			}
		})
	}

	t.Run("a good response", func(t *testing.T) {
		leaf := leafFor(good, key.Public(), inter)
		chain, err := chainFromResponse(&vaultapi.Secret{Data: map[string]any{
			"certificate": leaf, "issuing_ca": string(inter.CertPEM),
			"ca_chain": []any{string(inter.CertPEM), string(root.CertPEM)},
		}}, req, issuerName{kind: "Issuer", namespace: "ns", name: "vault"})
		if err != nil {
			t.Fatal(err)
		}
		if want := leaf + string(inter.CertPEM); string(chain) != want {
			t.Errorf("chain:\n%s\nwant the leaf and the intermediate, without the root:\n%s", chain, want)
		}
	})
}

func requestFor(t *testing.T, key crypto.Signer, tmpl *x509.CertificateRequest) signer.Request {
	t.Helper()
	csrPEM := testpki.RequestPEM(t, key, tmpl)
	return signer.Request{
		CSR:    &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{Request: csrPEM}},
		Parsed: testpki.ParseRequest(t, csrPEM), Duration: time.Hour,
	}
}

func issueLeaf(t *testing.T, tmpl *x509.Certificate, pub crypto.PublicKey, ca *testpki.CA) string {
	t.Helper()
	tmpl.SerialNumber, tmpl.Subject = big.NewInt(time.Now().UnixNano()), pkix.Name{CommonName: "leaf"}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestIsRoleSignPath(t *testing.T) {
	for p, want := range map[string]bool{
		"pki/sign/web": true, "/v1/pki_int/sign/web": true, "pki/issuer/default/sign/web": true, "team/pki/sign/web": true,
		"pki/root/sign-intermediate": false, "pki/sign-verbatim/web": false, "pki/sign": false,
	} {
		if got := isRoleSignPath(p); got != want {
			t.Errorf("isRoleSignPath(%q) = %t, want %t", p, got, want)
		}
	}
}
