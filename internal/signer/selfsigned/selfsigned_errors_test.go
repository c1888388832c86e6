package selfsigned_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/selfsigned"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

type errorCase struct {
	objs       []client.Object
	req        signer.Request
	pending    bool // otherwise permanent
	wantReason string
	mention    string
}

func TestSignErrors(t *testing.T) {
	key := testpki.NewKey(t, testpki.ECDSA)
	otherKey := testpki.NewKey(t, testpki.ECDSA)
	rsaKey := testpki.NewKey(t, testpki.RSA)
	keyPEM, otherPEM, rsaPEM := testpki.KeyPEM(t, key), testpki.KeyPEM(t, otherKey), testpki.KeyPEM(t, rsaKey)
	secretWith := func(data []byte) *corev1.Secret {
		s := keySecretFor(t, key)
		if data == nil {
			delete(s.Data, corev1.TLSPrivateKeyKey)
		} else {
			s.Data[corev1.TLSPrivateKeyKey] = data
		}
		return s
	}
	request := func(mutate func(*signer.Request)) signer.Request {
		req := newRequest(t, key, nil)
		if mutate != nil {
			mutate(&req)
		}
		return req
	}
	isCAExt, err := pki.MarshalBasicConstraints(true, nil)
	if err != nil {
		t.Fatal(err)
	}

	tests := map[string]errorCase{
		"annotation missing": {
			objs:       []client.Object{secretWith(keyPEM)},
			req:        request(func(r *signer.Request) { delete(r.CSR.Annotations, selfsigned.PrivateKeyAnnotation) }),
			wantReason: selfsigned.ReasonMissingAnnotation, mention: selfsigned.PrivateKeyAnnotation,
		},
		"annotation empty": {
			objs:       []client.Object{secretWith(keyPEM)},
			req:        request(func(r *signer.Request) { r.CSR.Annotations[selfsigned.PrivateKeyAnnotation] = "" }),
			wantReason: selfsigned.ReasonMissingAnnotation, mention: selfsigned.PrivateKeyAnnotation,
		},
		"Secret missing": {
			req: request(nil), pending: true,
			wantReason: signer.ReasonSecretMissing, mention: "cert-manager/app-key named by annotation " + selfsigned.PrivateKeyAnnotation,
		},
		"Secret in another namespace": {
			objs: []client.Object{secretWith(keyPEM)},
			req:  request(func(r *signer.Request) { r.ResourceNamespace = "team-a" }), pending: true,
			wantReason: signer.ReasonSecretMissing, mention: "team-a/app-key",
		},
		"no tls.key": {
			objs: []client.Object{secretWith(nil)}, req: request(nil), pending: true,
			wantReason: signer.ReasonSecretInvalidData, mention: "has no tls.key",
		},
		"garbage tls.key": {
			objs: []client.Object{secretWith([]byte("garbage"))}, req: request(nil), pending: true,
			wantReason: signer.ReasonSecretInvalidData, mention: "not a PEM-encoded",
		},
		"truncated tls.key": {
			objs: []client.Object{secretWith(keyPEM[:len(keyPEM)/2])}, req: request(nil), pending: true,
			wantReason: signer.ReasonSecretInvalidData, mention: "tls.key",
		},
		"key of the same type does not match": {
			objs: []client.Object{secretWith(otherPEM)}, req: request(nil),
			wantReason: selfsigned.ReasonErrorKeyMatch, mention: "does not match the public key of spec.request",
		},
		"key of another type": {
			objs: []client.Object{secretWith(rsaPEM)}, req: request(nil),
			wantReason: selfsigned.ReasonErrorKeyMatch, mention: "cert-manager/app-key",
		},
		"request disagrees with isCA": {
			objs: []client.Object{secretWith(keyPEM)},
			req: newRequest(t, key, &x509.CertificateRequest{
				Subject: pkix.Name{CommonName: "x"}, ExtraExtensions: []pkix.Extension{isCAExt},
			}),
			wantReason: signer.ReasonBasicConstraintsMismatch, mention: "request-is-ca",
		},
		// The annotation is checked first, as the cheapest thing a requester can get wrong.
		"annotation missing and no Secret": {
			req:        request(func(r *signer.Request) { r.CSR.Annotations = nil }),
			wantReason: selfsigned.ReasonMissingAnnotation, mention: selfsigned.PrivateKeyAnnotation,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			chain, err := selfsigned.New(readerWith(tc.objs...)).Sign(context.Background(), tc.req)
			var reason, message string
			if tc.pending {
				pe, ok := signer.AsPending(err)
				if !ok {
					t.Fatalf("Sign = %d bytes, %v; want a pending error", len(chain), err)
				}
				reason, message = pe.Reason, pe.Message
			} else {
				pe, ok := signer.AsPermanent(err)
				if !ok {
					t.Fatalf("Sign = %d bytes, %v; want a permanent error", len(chain), err)
				}
				reason, message = pe.Reason, pe.Message
			}
			if reason != tc.wantReason || !strings.Contains(message, tc.mention) {
				t.Errorf("Sign error = %v, want reason %s mentioning %q", err, tc.wantReason, tc.mention)
			}
			testpki.ExpectNoKeyMaterial(t, err, keyPEM, otherPEM, rsaPEM)
		})
	}
}

func TestSignRetriesOtherFailures(t *testing.T) {
	key := testpki.NewKey(t, testpki.ECDSA)
	boom := errors.New("connection refused")
	failing := fake.NewClientBuilder().WithObjects(keySecretFor(t, key)).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return boom
		},
	}).Build()
	_, err := selfsigned.New(failing).Sign(context.Background(), newRequest(t, key, nil))
	if !errors.Is(err, boom) {
		t.Errorf("Sign error = %v, want it to wrap the read error", err)
	}

	caIssuer := newRequest(t, key, nil)
	caIssuer.Issuer = &cmapi.Issuer{Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "x"}}}}
	noCSR := newRequest(t, key, nil)
	noCSR.CSR = nil
	for name, req := range map[string]signer.Request{"not a SelfSigned issuer": caIssuer, "no CSR": noCSR} {
		t.Run(name, func(t *testing.T) {
			_, err := selfsigned.New(readerWith(keySecretFor(t, key))).Sign(context.Background(), req)
			if err == nil {
				t.Fatal("Sign succeeded, want an error")
			}
			signertest.ExpectPlainError(t, err)
		})
	}
}
