package acme

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// eabKeyField is how messages point at the issuer field naming the EAB key Secret.
const eabKeyField = "spec.acme.externalAccountBinding.keySecretRef"

// externalAccountBinding builds the newAccount request's externalAccountBinding (RFC 8555
// section 7.3.4): the account's public key, MAC-signed with the HMAC key from the referenced
// Secret. lego's own binding always uses HS256; signing here honours keyAlgorithm too, which
// cert-manager deprecated but servers like Pebble still check.
func (s *Signer) externalAccountBinding(ctx context.Context, eab *cmacme.ACMEExternalAccountBinding, namespace, newAccountURL string,
	key crypto.Signer) (json.RawMessage, error) {
	secret, err := signer.ReadSecret(ctx, s.secrets, namespace, eab.Key.Name, eabKeyField)
	if err != nil {
		return nil, err
	}
	dataKey := eab.Key.Key
	encoded := secret.Data[dataKey]
	if dataKey == "" || len(encoded) == 0 {
		return nil, signer.Pending(signer.ReasonSecretInvalidData, "Secret %s/%s has no EAB key under %q (%s.key)",
			namespace, eab.Key.Name, dataKey, eabKeyField)
	}
	hmacKey, ok := decodeHMAC(string(encoded))
	if !ok {
		return nil, signer.Pending(signer.ReasonSecretInvalidData, "the EAB key in Secret %s/%s is not base64url-encoded", namespace, eab.Key.Name)
	}
	//nolint:staticcheck // SA1019: deprecated in cert-manager, but servers still check it; see signEAB.
	return signEAB(eab.KeyID, eab.KeyAlgorithm, hmacKey, newAccountURL, key)
}

// signEAB returns the flattened JWS of the account's public JWK for keyID, MAC'ed with hmacKey.
func signEAB(keyID string, alg cmacme.HMACKeyAlgorithm, hmacKey []byte, newAccountURL string, key crypto.Signer) (json.RawMessage, error) {
	var algorithm jose.SignatureAlgorithm
	switch alg {
	case "", cmacme.HS256:
		algorithm = jose.HS256
	case cmacme.HS384:
		algorithm = jose.HS384
	case cmacme.HS512:
		algorithm = jose.HS512
	default:
		return nil, signer.Pending(ReasonInvalidIssuer, "spec.acme.externalAccountBinding.keyAlgorithm %q is not HS256, HS384 or HS512", alg)
	}
	jwk, err := jose.JSONWebKey{Key: key.Public()}.MarshalJSON()
	if err != nil {
		return nil, signer.Pending(ReasonInvalidIssuer, "the account key's public key cannot be encoded as a JWK")
	}
	mac, err := jose.NewSigner(jose.SigningKey{Algorithm: algorithm, Key: hmacKey}, &jose.SignerOptions{
		ExtraHeaders: map[jose.HeaderKey]any{"kid": keyID, "url": newAccountURL},
	})
	if err != nil {
		// go-jose refuses HMAC keys shorter than the hash; its message does not quote the key.
		return nil, signer.Pending(signer.ReasonSecretInvalidData, "the EAB key cannot sign with %s: %v", algorithm, err)
	}
	signed, err := mac.Sign(jwk)
	if errors.Is(err, jose.ErrInvalidKeySize) {
		// RFC 7518 section 3.2: the key must be at least as long as the hash.
		return nil, signer.Pending(signer.ReasonSecretInvalidData, "the EAB key is too short for %s", algorithm)
	}
	if err != nil {
		return nil, signer.Pending(signer.ReasonSecretInvalidData, "signing the external account binding with %s failed: %v", algorithm, err)
	}
	return json.RawMessage(signed.FullSerialize()), nil
}

// decodeHMAC accepts the unpadded base64url that CAs hand out, and the padded form too.
func decodeHMAC(encoded string) ([]byte, bool) {
	if b, err := base64.RawURLEncoding.DecodeString(encoded); err == nil {
		return b, true
	}
	b, err := base64.URLEncoding.DecodeString(encoded)
	return b, err == nil
}
