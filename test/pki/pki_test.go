package pki

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"
)

func TestGenerateKeyRefusesAnUnknownAlgorithm(t *testing.T) {
	if _, err := GenerateKey("DSA"); err == nil || !strings.Contains(err.Error(), `unknown key algorithm "DSA"`) {
		t.Errorf("GenerateKey(DSA) error = %v, want unknown key algorithm", err)
	}
}

// A serving certificate issued under an intermediate verifies against the root alone, whatever
// the key types along the chain.
func TestIssuedChainVerifies(t *testing.T) {
	for _, alg := range KeyAlgorithms() {
		t.Run(string(alg), func(t *testing.T) {
			root := NewRootCA(t, alg, "Test Root")
			intermediate := root.NewIntermediate(t, alg, "Test Intermediate")
			certPEM, _, err := intermediate.ServingKeyPair("server.example.com")
			if err != nil {
				t.Fatal(err)
			}
			chain := ParseChain(t, bytes.Join([][]byte{certPEM, intermediate.CertPEM}, nil))
			if err := VerifyChain(chain, root.Cert, x509.ExtKeyUsageServerAuth); err != nil {
				t.Errorf("chain does not verify: %v", err)
			}
			if err := chain[0].VerifyHostname("server.example.com"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestRequestDefaultsToCommonNameTest(t *testing.T) {
	req := ParseRequest(t, RequestPEM(t, NewKey(t, ECDSA), nil))
	if req.Subject.CommonName != "test" {
		t.Errorf("CommonName = %q, want test", req.Subject.CommonName)
	}
}
