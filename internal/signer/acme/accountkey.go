package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// privateKeyField is how messages point at the issuer field naming the account key Secret.
const privateKeyField = "spec.acme.privateKeySecretRef"

// accountKeySize is the RSA size cert-manager generates ACME account keys with, so a key this
// operator generates is one cert-manager would have made.
const accountKeySize = 2048

// accountKey reads the issuer's account key from spec.acme.privateKeySecretRef in namespace,
// generating and storing a new one when the Secret does not exist, as cert-manager does, unless
// disableAccountKeyGeneration asks to wait for someone else to create it.
func (s *Signer) accountKey(ctx context.Context, spec *cmacme.ACMEIssuer, namespace string) (crypto.Signer, error) {
	key, err := s.readAccountKey(ctx, spec, namespace)
	if pending, ok := signer.AsPending(err); ok && pending.Reason == signer.ReasonSecretMissing && spec.PrivateKey.Name != "" && !spec.DisableAccountKeyGeneration {
		return s.generateAccountKey(ctx, namespace, spec.PrivateKey.Name, accountKeyDataKey(spec))
	}
	return key, err
}

// readAccountKey reads the issuer's account key without generating one: what the challenge
// server uses, which must never create an account key.
func (s *Signer) readAccountKey(ctx context.Context, spec *cmacme.ACMEIssuer, namespace string) (crypto.Signer, error) {
	name := spec.PrivateKey.Name
	secret, err := signer.ReadSecret(ctx, s.secrets, namespace, name, privateKeyField)
	if err != nil {
		return nil, err
	}
	key, err := signer.PrivateKeyFromSecret(secret, accountKeyDataKey(spec))
	if err != nil {
		return nil, err
	}
	if !signable(key) {
		return nil, signer.Pending(ReasonInvalidIssuer,
			"the account key in Secret %s/%s must be RSA or ECDSA P-256/P-384 to sign ACME requests", namespace, name)
	}
	return key, nil
}

// accountKeyDataKey is the Secret key holding the account key, tls.key unless the issuer says.
func accountKeyDataKey(spec *cmacme.ACMEIssuer) string {
	if spec.PrivateKey.Key == "" {
		return corev1.TLSPrivateKeyKey
	}
	return spec.PrivateKey.Key
}

// generateAccountKey creates the account key Secret. When another reconcile created it first,
// that key is the account's and is read back instead.
func (s *Signer) generateAccountKey(ctx context.Context, namespace, name, dataKey string) (crypto.Signer, error) {
	key, err := pki.GenerateRSAPrivateKey(accountKeySize)
	if err != nil {
		return nil, err
	}
	data := pki.EncodePKCS1PrivateKey(key)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Data:       map[string][]byte{dataKey: data},
	}
	err = s.client.Create(ctx, secret)
	if apierrors.IsAlreadyExists(err) {
		existing, err := signer.ReadSecret(ctx, s.secrets, namespace, name, privateKeyField)
		if err != nil {
			return nil, err
		}
		return signer.PrivateKeyFromSecret(existing, dataKey)
	}
	if err != nil {
		return nil, fmt.Errorf("creating the account key Secret %s/%s: %w", namespace, name, err)
	}
	return key, nil
}

// signable reports whether lego's JWS signer supports the key: RS256, ES256 or ES384.
func signable(key crypto.Signer) bool {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return true
	case *ecdsa.PrivateKey:
		return k.Curve == elliptic.P256() || k.Curve == elliptic.P384()
	}
	return false
}
