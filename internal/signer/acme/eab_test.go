package acme

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

func TestSignEAB(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hmacKey := []byte(strings.Repeat("k", 64))
	for alg, want := range map[cmacme.HMACKeyAlgorithm]jose.SignatureAlgorithm{"": jose.HS256, cmacme.HS384: jose.HS384, cmacme.HS512: jose.HS512} {
		raw, err := signEAB("kid-1", alg, hmacKey, "https://acme/new-acct", key)
		if err != nil {
			t.Fatalf("%q: %v", alg, err)
		}
		jws, err := jose.ParseSigned(string(raw), []jose.SignatureAlgorithm{want})
		if err != nil {
			t.Fatalf("%q: parsing: %v", alg, err)
		}
		payload, err := jws.Verify(hmacKey)
		if err != nil {
			t.Fatalf("%q: the MAC does not verify: %v", alg, err)
		}
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(payload, &jwk); err != nil || !jwk.IsPublic() {
			t.Errorf("%q: payload %s is not the account's public JWK", alg, payload)
		}
		h := jws.Signatures[0].Protected
		if h.KeyID != "kid-1" || h.ExtraHeaders["url"] != "https://acme/new-acct" {
			t.Errorf("%q: protected header %+v", alg, h)
		}
	}
	_, err = signEAB("kid-1", cmacme.HS512, []byte("xyzzy"), "u", key)
	if pe, ok := signer.AsPending(err); !ok || pe.Reason != signer.ReasonSecretInvalidData || strings.Contains(err.Error(), "xyzzy") {
		t.Errorf("short key: %v; want pending SecretInvalidData without the key", err)
	}
	_, err = signEAB("kid-1", "HS1024", hmacKey, "u", key)
	if pe, ok := signer.AsPending(err); !ok || pe.Reason != ReasonInvalidIssuer {
		t.Errorf("unknown algorithm: %v", err)
	}
}

func TestDecodeHMAC(t *testing.T) {
	raw := []byte{0xfb, 0xff, 0x01, 0x02, 0x03}
	for _, enc := range []string{base64.RawURLEncoding.EncodeToString(raw), base64.URLEncoding.EncodeToString(raw)} {
		if got, ok := decodeHMAC(enc); !ok || string(got) != string(raw) {
			t.Errorf("decodeHMAC(%q) = %v, %v", enc, got, ok)
		}
	}
	if _, ok := decodeHMAC("not base64!"); ok {
		t.Error("decoded garbage")
	}
}
