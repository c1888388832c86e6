package csr

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

func csrWithRequest(request []byte) *certificatesv1.CertificateSigningRequest {
	csr := csrWithAnnotations(nil)
	csr.Spec.Request = request
	return csr
}

func TestParseRequestAccepts(t *testing.T) {
	for _, alg := range testpki.KeyAlgorithms() {
		t.Run(string(alg), func(t *testing.T) {
			key := testpki.NewKey(t, alg)
			tmpl := &x509.CertificateRequest{
				Subject:     pkix.Name{CommonName: "svc.example.com", Organization: []string{"Example"}},
				DNSNames:    []string{"svc.example.com", "svc"},
				IPAddresses: []net.IP{net.ParseIP("10.0.0.1")},
			}
			good := testpki.RequestPEM(t, key, tmpl)
			inputs := map[string][]byte{
				"plain":               good,
				"trailing whitespace": append(append([]byte{}, good...), " \n\t\n"...),
				"leading text":        append([]byte("Certificate Request:\n    Data: ...\n"), good...),
				"no trailing newline": bytes.TrimRight(good, "\n"),
				"CRLF line endings":   bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")),
				"leading blank lines": append([]byte("\n\n"), good...),
			}
			for name, input := range inputs {
				t.Run(name, func(t *testing.T) {
					req, err := ParseRequest(csrWithRequest(input))
					if err != nil {
						t.Fatalf("ParseRequest error = %v", err)
					}
					if req.Subject.CommonName != tmpl.Subject.CommonName || len(req.DNSNames) != 2 || len(req.IPAddresses) != 1 {
						t.Errorf("ParseRequest lost request content: %+v", req)
					}
					if same, err := pki.PublicKeysEqual(key.Public(), req.PublicKey); err != nil || !same {
						t.Errorf("ParseRequest public key does not match the signing key (err %v)", err)
					}
				})
			}
		})
	}
}

func TestParseRequestRejects(t *testing.T) {
	for _, alg := range testpki.KeyAlgorithms() {
		t.Run(string(alg), func(t *testing.T) {
			key := testpki.NewKey(t, alg)
			der := testpki.RequestDER(t, key, nil)
			good := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})

			tampered := append([]byte{}, der...)
			tampered[len(tampered)-1] ^= 0x01

			tests := map[string]struct {
				input   []byte
				mention string
			}{
				"empty":                 {nil, "no PEM block"},
				"not PEM":               {[]byte("garbage"), "no PEM block"},
				"bare DER":              {der, "no PEM block"},
				"certificate block":     {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), `"CERTIFICATE"`},
				"legacy block type":     {pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der}), `"NEW CERTIFICATE REQUEST"`},
				"private key block":     {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), `"PRIVATE KEY"`},
				"trailing garbage":      {append(append([]byte{}, good...), "garbage"...), "after the CERTIFICATE REQUEST block"},
				"two requests":          {append(append([]byte{}, good...), good...), "after the CERTIFICATE REQUEST block"},
				"garbage DER":           {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("garbage")}), "cannot parse"},
				"truncated DER":         {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der[:len(der)/2]}), "cannot parse"},
				"tampered signature":    {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}), "signature"},
				"larger than the limit": {append(bytes.Repeat([]byte("# padding\n"), 8*1024), good...), "larger than the maximum"},
			}
			for name, tc := range tests {
				t.Run(name, func(t *testing.T) {
					req, err := ParseRequest(csrWithRequest(tc.input))
					if err == nil {
						t.Fatalf("ParseRequest = %+v, want an error", req.Subject)
					}
					wantFieldError(t, err, "spec.request", tc.mention)
				})
			}
		})
	}
	if _, err := ParseRequest(nil); err == nil {
		t.Error("ParseRequest(nil) error = nil")
	}
}

// FuzzParseRequest feeds arbitrary bytes as spec.request: nothing may panic, and
// whatever is accepted must carry a verified signature.
func FuzzParseRequest(f *testing.F) {
	f.Add(testpki.RequestPEM(f, testpki.NewKey(f, testpki.ECDSA), nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseRequest(csrWithRequest(data))
		if err != nil {
			if req != nil {
				t.Fatalf("ParseRequest returned a request with error %v", err)
			}
			return
		}
		if err := req.CheckSignature(); err != nil {
			t.Fatalf("accepted request does not verify: %v", err)
		}
		// An accepted request may still carry a malformed basic constraints
		// extension; reading it must error, never panic.
		_, _, _ = BasicConstraintsIsCA(req)
	})
}
