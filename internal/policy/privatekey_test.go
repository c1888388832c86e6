package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestPrivateKey(t *testing.T) {
	keys := map[string]crypto.Signer{}
	gen := func(name string, f func() (crypto.Signer, error)) {
		k, err := f()
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = k
	}
	gen("rsa1024", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 1024) })
	gen("rsa2048", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) })
	gen("p224", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P224(), rand.Reader) })
	gen("p256", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })
	gen("p384", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) })
	gen("ed25519", func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err })

	onlyECDSA384 := &v1alpha1.PrivateKeyPolicy{ECDSA: &v1alpha1.ECDSAKeyPolicy{MinSize: 384}}
	tests := []struct {
		name   string
		policy *v1alpha1.PrivateKeyPolicy
		key    string
		want   []string
	}{
		{name: "default allows RSA 2048", key: "rsa2048"},
		{name: "default refuses RSA 1024", key: "rsa1024", want: []string{"spec.privateKey.rsa.minSize FieldValueInvalid"}},
		{name: "default allows P-256", key: "p256"},
		{name: "default refuses P-224", key: "p224", want: []string{"spec.privateKey.ecdsa.minSize FieldValueInvalid"}},
		{name: "default allows Ed25519", key: "ed25519"},
		{name: "listed ECDSA 384 allows P-384", policy: onlyECDSA384, key: "p384"},
		{name: "listed ECDSA 384 refuses P-256", policy: onlyECDSA384, key: "p256",
			want: []string{"spec.privateKey.ecdsa.minSize FieldValueInvalid"}},
		{name: "unlisted RSA", policy: onlyECDSA384, key: "rsa2048", want: []string{"spec.privateKey FieldValueNotSupported"}},
		{name: "unlisted Ed25519", policy: onlyECDSA384, key: "ed25519", want: []string{"spec.privateKey FieldValueNotSupported"}},
		{name: "RSA above the listed minimum", policy: &v1alpha1.PrivateKeyPolicy{RSA: &v1alpha1.RSAKeyPolicy{MinSize: 3072}}, key: "rsa2048",
			want: []string{"spec.privateKey.rsa.minSize FieldValueInvalid"}},
		{name: "RSA minSize 0 means the API default", policy: &v1alpha1.PrivateKeyPolicy{RSA: &v1alpha1.RSAKeyPolicy{}}, key: "rsa1024",
			want: []string{"spec.privateKey.rsa.minSize FieldValueInvalid"}},
		{name: "listed Ed25519", policy: &v1alpha1.PrivateKeyPolicy{Ed25519: &v1alpha1.Ed25519KeyPolicy{}}, key: "ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.PrivateKey = tt.policy
			req := baseRequest(t, baseTemplate())
			req.CSR = newCSR(t, keys[tt.key], baseTemplate())
			assertFields(t, violations(&p, req), tt.want...)
		})
	}
}
