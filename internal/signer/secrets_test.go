package signer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

func TestReadSecret(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}, Data: map[string][]byte{"k": []byte("v")}}
	r := fake.NewClientBuilder().WithObjects(secret).Build()

	got, err := signer.ReadSecret(context.Background(), r, "ns", "s", "spec.ca.secretName")
	if err != nil || string(got.Data["k"]) != "v" {
		t.Fatalf("ReadSecret = %v, %v", got, err)
	}

	for name, tc := range map[string]struct{ namespace, name, mention string }{
		"not found":         {"ns", "other", "Secret ns/other named by spec.ca.secretName not found"},
		"other namespace":   {"elsewhere", "s", "Secret elsewhere/s"},
		"empty secret name": {"ns", "", "spec.ca.secretName names no Secret"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := signer.ReadSecret(context.Background(), r, tc.namespace, tc.name, "spec.ca.secretName")
			pe, ok := signer.AsPending(err)
			if !ok || pe.Reason != signer.ReasonSecretMissing || !strings.Contains(pe.Message, tc.mention) {
				t.Errorf("ReadSecret error = %v, want pending SecretMissing mentioning %q", err, tc.mention)
			}
		})
	}
}

func TestReadSecretOtherErrorsAreRetried(t *testing.T) {
	boom := errors.New("connection refused")
	r := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return boom
		},
	}).Build()
	_, err := signer.ReadSecret(context.Background(), r, "ns", "s", "spec.ca.secretName")
	if !errors.Is(err, boom) {
		t.Fatalf("ReadSecret error = %v, want it to wrap %v", err, boom)
	}
	if _, ok := signer.AsPending(err); ok {
		t.Errorf("a read failure must not be pending")
	}
}

func TestPrivateKeyFromSecret(t *testing.T) {
	for _, alg := range testpki.KeyAlgorithms() {
		t.Run(string(alg), func(t *testing.T) {
			key := testpki.NewKey(t, alg)
			secret := &corev1.Secret{Data: map[string][]byte{corev1.TLSPrivateKeyKey: testpki.KeyPEM(t, key)}}
			got, err := signer.PrivateKeyFromSecret(secret, corev1.TLSPrivateKeyKey)
			if err != nil {
				t.Fatalf("PrivateKeyFromSecret error = %v", err)
			}
			if eq, err := pki.PublicKeysEqual(key.Public(), got.Public()); err != nil || !eq {
				t.Errorf("decoded a different key")
			}
		})
	}
}

func TestPrivateKeyFromSecretInvalid(t *testing.T) {
	key := testpki.KeyPEM(t, testpki.NewKey(t, testpki.ECDSA))
	// A truncated key still looks like key material; the message must not repeat any of it.
	truncated := key[:len(key)/2]
	ca := testpki.NewRootCA(t, testpki.ECDSA, "ca")
	for name, data := range map[string][]byte{
		"missing":        nil,
		"empty":          {},
		"garbage":        []byte("garbage"),
		"truncated key":  truncated,
		"a certificate":  ca.CertPEM,
		"corrupted body": []byte(strings.Replace(string(key), "M", "!", 3)),
	} {
		t.Run(name, func(t *testing.T) {
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}, Data: map[string][]byte{}}
			if data != nil {
				secret.Data[corev1.TLSPrivateKeyKey] = data
			}
			_, err := signer.PrivateKeyFromSecret(secret, corev1.TLSPrivateKeyKey)
			pe, ok := signer.AsPending(err)
			if !ok || pe.Reason != signer.ReasonSecretInvalidData {
				t.Fatalf("PrivateKeyFromSecret error = %v, want pending SecretInvalidData", err)
			}
			if !strings.Contains(pe.Message, "ns/s") || !strings.Contains(pe.Message, "tls.key") {
				t.Errorf("message %q does not name the Secret and its key", pe.Message)
			}
			testpki.ExpectNoKeyMaterial(t, err, key, truncated)
		})
	}
}
