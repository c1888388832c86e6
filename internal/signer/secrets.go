package signer

import (
	"context"
	"crypto"
	"fmt"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReadSecret gets the Secret namespace/name that referrer (a field path or annotation, for the
// message) points at. A missing Secret, or an empty name, is a *PendingError with reason
// SecretMissing: whoever owns it may still create it, and cert-manager waits the same way.
// Any other read error is returned as is, to be retried.
func ReadSecret(ctx context.Context, r client.Reader, namespace, name, referrer string) (*corev1.Secret, error) {
	if name == "" {
		return nil, Pending(ReasonSecretMissing, "%s names no Secret", referrer)
	}
	var secret corev1.Secret
	err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &secret)
	if apierrors.IsNotFound(err) {
		return nil, Pending(ReasonSecretMissing, "Secret %s/%s named by %s not found", namespace, name, referrer)
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s/%s named by %s: %w", namespace, name, referrer, err)
	}
	return &secret, nil
}

// PrivateKeyFromSecret decodes the PEM private key (PKCS#1, SEC 1 or PKCS#8; RSA, ECDSA or
// Ed25519) under dataKey. A missing or unusable key is a *PendingError with reason
// SecretInvalidData, since fixing the Secret is enough to get the CSR signed.
//
// The decoder's own error is deliberately left out of the message: it is about key bytes, and
// messages are shown to requesters who must learn nothing about the key.
func PrivateKeyFromSecret(secret *corev1.Secret, dataKey string) (crypto.Signer, error) {
	data, ok := secret.Data[dataKey]
	if !ok || len(data) == 0 {
		return nil, Pending(ReasonSecretInvalidData, "Secret %s/%s has no %s", secret.Namespace, secret.Name, dataKey)
	}
	key, err := pki.DecodePrivateKeyBytes(data)
	if err != nil {
		return nil, Pending(ReasonSecretInvalidData,
			"%s in Secret %s/%s is not a PEM-encoded RSA, ECDSA or Ed25519 private key", dataKey, secret.Namespace, secret.Name)
	}
	return key, nil
}
