package ca_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// A broken issuer Secret is pending: its owner can fix it, and the CSR is signed then.
func TestSignWaitsForUsableSecret(t *testing.T) {
	root := testpki.NewRootCA(t, testpki.ECDSA, "root")
	other := testpki.NewRootCA(t, testpki.ECDSA, "other root")
	leafPEM, leafKeyPEM := nonCACertificate(t, root)

	tests := map[string]struct {
		secret          *corev1.Secret // nil: no Secret
		emptySecretName bool
		wantReason      string
		mention         string
	}{
		"Secret missing": {
			wantReason: signer.ReasonSecretMissing, mention: "team-a/ca-key-pair named by spec.ca.secretName not found",
		},
		"Secret in another namespace": {
			secret:     root.Secret("elsewhere", secretName),
			wantReason: signer.ReasonSecretMissing, mention: "team-a/ca-key-pair",
		},
		"no tls.key": {
			secret:     withData(root.Secret(namespace, secretName), corev1.TLSPrivateKeyKey, nil),
			wantReason: signer.ReasonSecretInvalidData, mention: "has no tls.key",
		},
		"garbage tls.key": {
			secret:     withData(root.Secret(namespace, secretName), corev1.TLSPrivateKeyKey, []byte("garbage")),
			wantReason: signer.ReasonSecretInvalidData, mention: "tls.key in Secret team-a/ca-key-pair is not a PEM-encoded",
		},
		"truncated tls.key": {
			secret:     withData(root.Secret(namespace, secretName), corev1.TLSPrivateKeyKey, root.KeyPEM[:len(root.KeyPEM)/2]),
			wantReason: signer.ReasonSecretInvalidData, mention: "tls.key",
		},
		"no tls.crt": {
			secret:     withData(root.Secret(namespace, secretName), corev1.TLSCertKey, nil),
			wantReason: signer.ReasonSecretInvalidData, mention: "tls.crt is missing",
		},
		"garbage tls.crt": {
			secret:     withData(root.Secret(namespace, secretName), corev1.TLSCertKey, []byte("garbage")),
			wantReason: signer.ReasonSecretInvalidData, mention: "tls.crt:",
		},
		"tls.key of another CA": {
			secret:     withData(root.Secret(namespace, secretName), corev1.TLSPrivateKeyKey, other.KeyPEM),
			wantReason: signer.ReasonSecretInvalidData, mention: "tls.key does not belong",
		},
		"tls.crt is not a CA": {
			secret: withData(withData(root.Secret(namespace, secretName),
				corev1.TLSCertKey, leafPEM), corev1.TLSPrivateKeyKey, leafKeyPEM),
			wantReason: signer.ReasonSecretInvalidData, mention: "not a CA",
		},
		"ca.crt is unrelated": {
			secret:     withData(root.Secret(namespace, secretName), "ca.crt", other.CertPEM),
			wantReason: signer.ReasonSecretInvalidData, mention: "do not form a single certificate chain",
		},
		"garbage ca.crt": {
			secret:     withData(root.Secret(namespace, secretName), "ca.crt", []byte("garbage")),
			wantReason: signer.ReasonSecretInvalidData, mention: "ca.crt:",
		},
		"issuer names no Secret": {
			secret: root.Secret(namespace, secretName), emptySecretName: true,
			wantReason: signer.ReasonSecretMissing, mention: "spec.ca.secretName names no Secret",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var objs []client.Object
			if tc.secret != nil {
				objs = append(objs, tc.secret)
			}
			req := newRequest(t, testpki.NewKey(t, testpki.ECDSA), nil)
			if tc.emptySecretName {
				req.Issuer.GetSpec().CA.SecretName = ""
			}
			chain, _, _, err := sign(t, readerWith(objs...), req)
			pe, ok := signer.AsPending(err)
			if !ok {
				t.Fatalf("Sign = %d bytes, %v; want a pending error", len(chain), err)
			}
			if pe.Reason != tc.wantReason || !strings.Contains(pe.Message, tc.mention) {
				t.Errorf("Sign error = %v, want reason %s mentioning %q", err, tc.wantReason, tc.mention)
			}
			testpki.ExpectNoKeyMaterial(t, err, root.KeyPEM, other.KeyPEM, leafKeyPEM)
		})
	}
}

// A request that disagrees with itself can never be signed, whatever the Secret holds.
func TestSignRefusesRequestsForGood(t *testing.T) {
	root := testpki.NewRootCA(t, testpki.RSA, "root")
	key := testpki.NewKey(t, testpki.ECDSA)
	isCAExt, err := pki.MarshalBasicConstraints(true, nil)
	if err != nil {
		t.Fatal(err)
	}
	certSignExt, err := pki.MarshalKeyUsage(x509.KeyUsageCertSign)
	if err != nil {
		t.Fatal(err)
	}
	withExt := func(ext pkix.Extension) signer.Request {
		return newRequest(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}, ExtraExtensions: []pkix.Extension{ext}})
	}
	unknownUsage := newRequest(t, key, nil)
	unknownUsage.Usages = []certificatesv1.KeyUsage{"teleport"}
	garbage := newRequest(t, key, nil)
	garbage.CSR.Spec.Request = []byte("garbage")

	tests := map[string]struct {
		req        signer.Request
		secret     bool
		wantReason string
	}{
		"request encodes isCA, CSR asks for a leaf": {req: withExt(isCAExt), secret: true, wantReason: signer.ReasonBasicConstraintsMismatch},
		"request key usage differs":                 {req: withExt(certSignExt), secret: true, wantReason: signer.ReasonKeyUsageMismatch},
		"unknown usage":                             {req: unknownUsage, secret: true, wantReason: signer.ReasonErrorGenerating},
		"unparsable request":                        {req: garbage, secret: true, wantReason: signer.ReasonErrorGenerating},
		// Failing at once beats waiting for a Secret and failing then.
		"bad request and no Secret": {req: withExt(isCAExt), wantReason: signer.ReasonBasicConstraintsMismatch},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := readerWith()
			if tc.secret {
				r = readerWith(root.Secret(namespace, secretName))
			}
			_, _, _, err := sign(t, r, tc.req)
			pe, ok := signer.AsPermanent(err)
			if !ok || pe.Reason != tc.wantReason {
				t.Fatalf("Sign error = %v, want permanent %s", err, tc.wantReason)
			}
			testpki.ExpectNoKeyMaterial(t, err, root.KeyPEM)
		})
	}
}

// Errors that are neither the Secret's nor the CSR's fault are retried: plain errors.
func TestSignRetriesOtherFailures(t *testing.T) {
	root := testpki.NewRootCA(t, testpki.ECDSA, "root")
	boom := errors.New("connection refused")
	failing := fake.NewClientBuilder().WithObjects(root.Secret(namespace, secretName)).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return boom
		},
	}).Build()

	noDuration := newRequest(t, testpki.NewKey(t, testpki.ECDSA), nil)
	noDuration.Duration = 0
	selfSignedIssuer := newRequest(t, testpki.NewKey(t, testpki.ECDSA), nil)
	selfSignedIssuer.Issuer = &cmapi.Issuer{Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}}}
	noIssuer := newRequest(t, testpki.NewKey(t, testpki.ECDSA), nil)
	noIssuer.Issuer = nil

	tests := map[string]struct {
		r   client.Reader
		req signer.Request
	}{
		"Secret read fails": {r: failing, req: newRequest(t, testpki.NewKey(t, testpki.ECDSA), nil)},
		"no duration":       {r: readerWith(root.Secret(namespace, secretName)), req: noDuration},
		"not a CA issuer":   {r: readerWith(root.Secret(namespace, secretName)), req: selfSignedIssuer},
		"no issuer":         {r: readerWith(root.Secret(namespace, secretName)), req: noIssuer},
		"no CSR in request": {r: readerWith(root.Secret(namespace, secretName)), req: signer.Request{Issuer: issuer(), Duration: time.Hour}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ca.New(tc.r).Sign(context.Background(), tc.req)
			if err == nil {
				t.Fatal("Sign succeeded, want an error")
			}
			signertest.ExpectPlainError(t, err)
		})
	}
	if _, err := ca.New(failing).Sign(context.Background(), newRequest(t, testpki.NewKey(t, testpki.ECDSA), nil)); !errors.Is(err, boom) {
		t.Errorf("Sign error = %v, want it to wrap the read error", err)
	}
}

func withData(secret *corev1.Secret, key string, value []byte) *corev1.Secret {
	if value == nil {
		delete(secret.Data, key)
	} else {
		secret.Data[key] = value
	}
	return secret
}

// nonCACertificate returns a leaf certificate signed by ca and its key, both in PEM.
func nonCACertificate(t *testing.T, ca *testpki.CA) (certPEM, keyPEM []byte) {
	t.Helper()
	key := testpki.NewKey(t, testpki.ECDSA)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), testpki.KeyPEM(t, key)
}
