package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	"github.com/signerpolicy/signer-policy-operator/test/pki"
)

const (
	clusterResourceNamespace = "signer-policy-system"
	requesterGroup           = "bench:requesters"
	issuerName               = "bench"
	selfSignedKeySecret      = "bench-key"
)

// fixture is what every run needs: the signer, requester clients and CSR keys.
type fixture struct {
	signerName string
	requesters []client.Client
	// keys sign the CSRs; a few are reused because RSA key generation would otherwise dominate
	// the set-up, and a SelfSigned issuer needs the one key its Secret holds.
	keys []crypto.Signer
	// annotations go on every CSR (the SelfSigned key's Secret).
	annotations map[string]string
}

func prepare(ctx context.Context, env *harness.Env, c config) (*fixture, error) {
	if err := env.Admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: clusterResourceNamespace}}); err != nil {
		return nil, err
	}
	f := &fixture{signerName: "clusterissuers.cert-manager.io/" + issuerName}
	keyCount := 16
	if c.Issuer == "selfsigned" {
		keyCount = 1
	}
	for range keyCount {
		k, err := newKey(c.Key)
		if err != nil {
			return nil, err
		}
		f.keys = append(f.keys, k)
	}
	if err := f.createIssuer(ctx, env, c.Issuer); err != nil {
		return nil, err
	}
	if err := createPolicies(ctx, env, c.Policies); err != nil {
		return nil, err
	}
	for i := range c.Requesters {
		u, err := env.AddUser(fmt.Sprintf("bench-requester-%d", i), requesterGroup)
		if err != nil {
			return nil, err
		}
		cfg := u.Config()
		// The requesters stand for many clients; client-side throttling would measure the
		// benchmark, not the operator.
		cfg.QPS, cfg.Burst = -1, 0
		cl, err := client.New(cfg, client.Options{Scheme: env.Scheme})
		if err != nil {
			return nil, err
		}
		f.requesters = append(f.requesters, cl)
	}
	return f, nil
}

func newKey(kind string) (crypto.Signer, error) {
	switch kind {
	case "ecdsa":
		return pki.GenerateKey(pki.ECDSA)
	case "rsa":
		return pki.GenerateKey(pki.RSA)
	}
	return nil, fmt.Errorf("unknown key type %q: ecdsa or rsa", kind)
}

// caValidity is how long the CA issuer's CA is valid: longer than any run.
const caValidity = 365 * 24 * time.Hour

func (f *fixture) createIssuer(ctx context.Context, env *harness.Env, kind string) error {
	spec := cmapi.IssuerSpec{}
	switch kind {
	case "ca":
		ca, err := pki.NewAuthority("Bench Root CA", nil, caValidity)
		if err != nil {
			return err
		}
		if err := env.Admin.Create(ctx, ca.Secret(clusterResourceNamespace, issuerName)); err != nil {
			return err
		}
		spec.CA = &cmapi.CAIssuer{SecretName: issuerName}
	case "selfsigned":
		keyPEM, err := pki.EncodeKey(f.keys[0])
		if err != nil {
			return err
		}
		if err := env.Admin.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: clusterResourceNamespace, Name: selfSignedKeySecret},
			Data:       map[string][]byte{corev1.TLSPrivateKeyKey: keyPEM},
		}); err != nil {
			return err
		}
		spec.SelfSigned = &cmapi.SelfSignedIssuer{}
		f.annotations = map[string]string{"experimental.cert-manager.io/private-key-secret-name": selfSignedKeySecret}
	default:
		return fmt.Errorf("unknown issuer type %q: ca or selfsigned", kind)
	}
	return env.Admin.Create(ctx, &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: issuerName}, Spec: spec})
}

// createPolicies makes n policies on the signer. n-1 refuse the requesters (they name other
// users); the one that allows sorts last, so each CSR is evaluated against every policy.
func createPolicies(ctx context.Context, env *harness.Env, n int) error {
	ref := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: issuerName}
	for i := range n - 1 {
		p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("other-%04d", i)}, Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef: &ref, Requesters: policyv1alpha1.Subjects{Users: []string{fmt.Sprintf("someone-%d", i)}},
			Allowed: policyv1alpha1.Allowed{DNSNames: []string{fmt.Sprintf("*.team-%d.example.com", i)}},
		}}
		if err := env.Admin.Create(ctx, p); err != nil {
			return err
		}
	}
	return env.Admin.Create(ctx, &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: "zz-bench"}, Spec: policyv1alpha1.SignerPolicySpec{
		IssuerRef: &ref, Requesters: policyv1alpha1.Subjects{Groups: []string{requesterGroup}},
		Allowed: policyv1alpha1.Allowed{DNSNames: []string{"*.bench.example.com"}},
	}})
}

func (f *fixture) waitForPolicies(ctx context.Context, env *harness.Env, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var list policyv1alpha1.SignerPolicyList
		if err := env.Admin.List(ctx, &list); err != nil {
			return err
		}
		ready := 0
		for _, p := range list.Items {
			if meta.IsStatusConditionTrue(p.Status.Conditions, policyv1alpha1.ConditionReady) {
				ready++
			}
		}
		if ready == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d policies Ready", ready, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (f *fixture) request(i int) ([]byte, error) {
	return pki.CreateRequestPEM(f.keys[i%len(f.keys)], &x509.CertificateRequest{DNSNames: []string{fmt.Sprintf("web-%d.bench.example.com", i)}})
}
