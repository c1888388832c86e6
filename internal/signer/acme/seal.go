package acme

import (
	"crypto"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	"k8s.io/apimachinery/pkg/types"
)

// The progress annotations are written by the operator on an object whose annotations the
// requester chooses when creating it (and anyone who may update CSRs can change later). Read back
// as written, they would let a requester point the signer at an order of their choosing or have
// the challenge server answer with their own key authorization. So every value the signer stores
// is sealed with an HMAC that only a holder of the issuer's ACME account key can compute, bound to
// the CSR and the issuer, and a value that does not open is treated as absent.

// sealKeyInfo separates the MAC key from any other use of the account key's bytes.
const sealKeyInfo = "signer-policy-operator acme progress annotations v1"

// accountKeys is what the signer and the challenge server derive from an issuer's ACME account
// key, which lives in a Secret requesters cannot read. Derived from the key itself, it is the same
// after a restart and in every replica, and changes when the key does.
type accountKeys struct {
	// mac keys the HMAC of progress annotations.
	mac []byte
	// thumbprint is the account key's RFC 7638 thumbprint, the half of every key authorization
	// that says which account may complete a challenge.
	thumbprint string
}

// deriveAccountKeys derives the MAC key with HKDF-SHA256 over the key's PKCS#8 DER, and computes
// the thumbprint as lego does for its key authorizations.
func deriveAccountKeys(key crypto.Signer) (accountKeys, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return accountKeys{}, fmt.Errorf("encoding the account key: %w", err)
	}
	mac, err := hkdf.Key(sha256.New, der, nil, sealKeyInfo, sha256.Size)
	if err != nil {
		return accountKeys{}, err
	}
	thumbprint, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return accountKeys{}, fmt.Errorf("computing the account key's thumbprint: %w", err)
	}
	return accountKeys{mac: mac, thumbprint: base64.RawURLEncoding.EncodeToString(thumbprint)}, nil
}

// keyAuthorization is the key authorization of token for this account (RFC 8555 section 8.1).
// It is always computed, never read from an annotation.
func (k accountKeys) keyAuthorization(token string) string {
	return token + "." + k.thumbprint
}

// sealer seals and opens the progress annotations of one CSR for one issuer. The MAC covers the
// CSR's UID (a value copied onto another CSR does not open), its signerName and the issuer's
// directory URL (a value sealed for another issuer sharing the key, or before spec.acme.server
// changed, does not open), the annotation key and the value.
type sealer struct {
	keys       accountKeys
	csrUID     types.UID
	signerName string
	server     string
}

func (s sealer) mac(annotation string, payload []byte) []byte {
	h := hmac.New(sha256.New, s.keys.mac)
	// Length-prefixed, so that no two different inputs share an encoding.
	for _, field := range [][]byte{[]byte(s.csrUID), []byte(s.signerName), []byte(s.server), []byte(annotation), payload} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(field))))
		h.Write(field)
	}
	return h.Sum(nil)
}

func (s sealer) verify(annotation string, payload []byte, mac string) bool {
	got, err := base64.RawURLEncoding.DecodeString(mac)
	return err == nil && hmac.Equal(got, s.mac(annotation, payload))
}

// sealedOrderURL is the value of OrderURLAnnotation.
type sealedOrderURL struct {
	URL string `json:"url"`
	MAC string `json:"mac"`
}

// sealedChallenges is the value of ChallengesAnnotation. The MAC is over Records exactly as
// stored, so opening never depends on how JSON is re-encoded.
type sealedChallenges struct {
	Records json.RawMessage `json:"records"`
	MAC     string          `json:"mac"`
}

// orderURL is the annotation value holding url.
func (s sealer) orderURL(url string) string {
	data, _ := json.Marshal(sealedOrderURL{URL: url, MAC: base64.RawURLEncoding.EncodeToString(s.mac(OrderURLAnnotation, []byte(url)))})
	return string(data)
}

// openOrderURL returns the order URL value holds. An empty value is no order; ok is false for a
// value that is not one this operator sealed for this CSR and issuer.
func (s sealer) openOrderURL(value string) (url string, ok bool) {
	if value == "" {
		return "", true
	}
	var sealed sealedOrderURL
	if json.Unmarshal([]byte(value), &sealed) != nil || sealed.URL == "" || !s.verify(OrderURLAnnotation, []byte(sealed.URL), sealed.MAC) {
		return "", false
	}
	return sealed.URL, true
}

// challenges renders the annotation value; an empty list is the empty string, which is how a
// finished order's annotation reads.
func (s sealer) challenges(records []challengeRecord) (string, error) {
	if len(records) == 0 {
		return "", nil
	}
	raw, err := json.Marshal(records)
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(sealedChallenges{Records: raw, MAC: base64.RawURLEncoding.EncodeToString(s.mac(ChallengesAnnotation, raw))})
	return string(data), err
}

// openChallenges returns the records value holds. An empty value is no records; ok is false for a
// value that is not one this operator sealed for this CSR and issuer.
func (s sealer) openChallenges(value string) (records []challengeRecord, ok bool) {
	if value == "" {
		return nil, true
	}
	var sealed sealedChallenges
	if json.Unmarshal([]byte(value), &sealed) != nil || !s.verify(ChallengesAnnotation, sealed.Records, sealed.MAC) ||
		json.Unmarshal(sealed.Records, &records) != nil {
		return nil, false
	}
	return records, true
}

// unverifiedChallenges returns the records of the annotation without checking the seal, for the
// index that finds candidate CSRs by token: whoever reads the records through it must open them.
func unverifiedChallenges(value string) []challengeRecord {
	var sealed sealedChallenges
	var records []challengeRecord
	if json.Unmarshal([]byte(value), &sealed) != nil || json.Unmarshal(sealed.Records, &records) != nil {
		return nil
	}
	return records
}
