package controllers

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"

	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// An upstream's certificate is delivered only when it is what the gate decided.
func TestCheckIssued(t *testing.T) {
	now := time.Now()
	key := testpki.NewKey(t, testpki.ECDSA)
	ca := testpki.NewRootCA(t, testpki.ECDSA, "upstream")
	parsed := testpki.ParseRequest(t, testpki.RequestPEM(t, key, &x509.CertificateRequest{
		DNSNames: []string{"web.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")},
	}))
	p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: policyv1alpha1.SignerPolicySpec{
		Usages: []policyv1alpha1.KeyUsage{"digital signature", "server auth", "client auth", "code signing"},
	}}
	g := &grant{parsed: parsed, lifetime: 24 * time.Hour, policy: p, usages: []certificatesv1.KeyUsage{"digital signature", "server auth", "client auth"}}
	asked := func() *x509.Certificate {
		return &x509.Certificate{
			DNSNames: []string{"WEB.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			KeyUsage:    x509.KeyUsageDigitalSignature, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour),
		}
	}
	tests := []struct {
		name    string
		edit    func(*x509.Certificate)
		pub     crypto.PublicKey
		mention []string
	}{
		{name: "as decided, names compared ignoring DNS case"},
		{name: "an upstream may add an extended key usage the policy allows", edit: func(c *x509.Certificate) {
			c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageCodeSigning)
		}},
		{name: "an upstream may add subject attributes", edit: func(c *x509.Certificate) {
			c.Subject = pkix.Name{Organization: []string{"Example Corp"}, Country: []string{"NL"}}
		}},
		{name: "but never an extended key usage the policy does not allow", edit: func(c *x509.Certificate) {
			c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageEmailProtection)
			c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{{1, 2, 3, 4}}
		}, mention: []string{`extended key usages email protection, 1.2.3.4, which SignerPolicy "web" does not allow`}},
		{name: "nor a system identity", edit: func(c *x509.Certificate) {
			c.Subject = pkix.Name{CommonName: "system:admin", Organization: []string{"system:masters"}}
		}, mention: []string{`"system:admin"`, `"system:masters"`}},
		{name: "nor a critical extension nobody decided", edit: func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4, 5}, Critical: true, Value: []byte{5, 0}}}
		}, mention: []string{"critical extension 1.2.3.4.5"}},
		{name: "an approved usage the upstream would not give", edit: func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}, mention: []string{"lacks the approved usages client auth"}},
		{name: "a name nobody asked for", edit: func(c *x509.Certificate) { c.DNSNames = append(c.DNSNames, "evil.example.com") },
			mention: []string{`holds the DNS name "evil.example.com"`}},
		{name: "a requested name missing", edit: func(c *x509.Certificate) { c.IPAddresses = nil },
			mention: []string{`lacks the requested IP address "10.0.0.1"`}},
		{name: "the CA flag", edit: func(c *x509.Certificate) { c.IsCA, c.BasicConstraintsValid = true, true },
			mention: []string{"CA flag is true"}},
		{name: "a longer life than granted", edit: func(c *x509.Certificate) { c.NotAfter = now.Add(90 * 24 * time.Hour) },
			mention: []string{"beyond the granted lifetime of 24h0m0s"}},
		{name: "another key", pub: testpki.NewKey(t, testpki.ECDSA).Public(), mention: []string{"does not certify the CSR's public key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := asked()
			if tt.edit != nil {
				tt.edit(tmpl)
			}
			pub := tt.pub
			if pub == nil {
				pub = key.Public()
			}
			tmpl.SerialNumber = big.NewInt(1)
			der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			got := checkIssued(g, leaf, now)
			if len(tt.mention) == 0 && got != "" {
				t.Fatalf("refused a certificate as decided: %s", got)
			}
			for _, m := range tt.mention {
				if !strings.Contains(got, m) {
					t.Errorf("%q does not mention %q", got, m)
				}
			}
		})
	}
}
