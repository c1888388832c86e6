package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/pki"
)

const (
	clusterResourceNamespace = "signer-policy-system"
	// issuerNamespace holds the Issuer and its Secrets with -namespaced.
	issuerNamespace     = "bench"
	requesterGroup      = "bench:requesters"
	approverUser        = "bench-approver"
	issuerName          = "bench"
	allowingPolicy      = "zz-bench"
	selfSignedKeySecret = "bench-key"
	// ceilingSigner is the signer of the ceiling's CSRs, which no policy governs.
	ceilingSigner = "bench.signerpolicy.dev/ceiling"
)

// fixture is what every run needs: the signer, the clients of requesters, approver and
// operator, and CSR keys.
type fixture struct {
	signerName string
	requesters []client.Client
	// approver approves for the creators: requesting and approving are separate powers, so the
	// creators approve through a user the allowing policy names as its approver.
	approver client.Client
	// writer writes the ceiling's certificates with the same rights as the operator.
	writer             client.Client
	operatorKubeconfig []byte
	// ceilingCert is what the ceiling writes as each certificate.
	ceilingCert []byte
	// keys sign the CSRs; a few are reused because RSA key generation would otherwise dominate
	// the set-up, and a SelfSigned issuer needs the one key its Secret holds.
	keys []crypto.Signer
	// annotations go on every CSR (the SelfSigned key's Secret).
	annotations map[string]string
}

func prepare(ctx context.Context, cl *cluster, c config) (*fixture, error) {
	f := &fixture{}
	ref := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: issuerName}
	secretNamespace := clusterResourceNamespace
	f.signerName = "clusterissuers.cert-manager.io/" + issuerName
	if c.Namespaced {
		ref = policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: issuerNamespace, Name: issuerName}
		secretNamespace = issuerNamespace
		f.signerName = fmt.Sprintf("issuers.cert-manager.io/%s.%s", issuerNamespace, issuerName)
		if err := cl.createNamespace(ctx, issuerNamespace); err != nil {
			return nil, err
		}
	}
	if err := cl.createNamespace(ctx, clusterResourceNamespace); err != nil {
		return nil, err
	}
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
	if err := f.createIssuer(ctx, cl, c, ref, secretNamespace); err != nil {
		return nil, err
	}
	if err := createPolicies(ctx, cl, ref, c.Policies); err != nil {
		return nil, err
	}
	if err := f.addUsers(ctx, cl, c.Requesters); err != nil {
		return nil, err
	}
	ca, err := pki.NewAuthority("ceiling", nil, caValidity)
	if err != nil {
		return nil, err
	}
	f.ceilingCert = ca.CertPEM
	return f, nil
}

// addUsers provisions the requesters, the approver (who may also approve the ceiling's CSRs,
// so that the ceiling approves as the same user), the ceiling's writer and the operator.
func (f *fixture) addUsers(ctx context.Context, cl *cluster, requesters int) error {
	for i := range requesters {
		r, err := cl.userClient(fmt.Sprintf("bench-requester-%d", i), requesterGroup)
		if err != nil {
			return err
		}
		f.requesters = append(f.requesters, r)
	}
	var err error
	if f.approver, err = cl.userClient(approverUser); err != nil {
		return err
	}
	if err := grantCeilingApproval(ctx, cl); err != nil {
		return err
	}
	if f.writer, err = cl.userClient("bench-ceiling-signer", "system:masters"); err != nil {
		return err
	}
	op, err := cl.user(operatorUser, "system:masters")
	if err != nil {
		return err
	}
	f.operatorKubeconfig, err = op.KubeConfig()
	return err
}

func grantCeilingApproval(ctx context.Context, cl *cluster) error {
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "bench-ceiling-approver"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{certificatesv1.GroupName}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"get"}},
		{APIGroups: []string{certificatesv1.GroupName}, Resources: []string{"certificatesigningrequests/approval"}, Verbs: []string{"update"}},
		{APIGroups: []string{certificatesv1.GroupName}, Resources: []string{"signers"}, Verbs: []string{"approve"}, ResourceNames: []string{ceilingSigner}},
	}}
	if err := cl.admin.Create(ctx, role); err != nil {
		return err
	}
	return cl.admin.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: approverUser}},
	})
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

func (f *fixture) createIssuer(ctx context.Context, cl *cluster, c config, ref policyv1alpha1.IssuerReference, secretNamespace string) error {
	spec := cmapi.IssuerSpec{}
	switch c.Issuer {
	case "ca":
		ca, err := pki.NewAuthority("Bench Root CA", nil, caValidity)
		if err != nil {
			return err
		}
		if err := cl.admin.Create(ctx, ca.Secret(secretNamespace, issuerName)); err != nil {
			return err
		}
		spec.CA = &cmapi.CAIssuer{SecretName: issuerName}
	case "selfsigned":
		keyPEM, err := pki.EncodeKey(f.keys[0])
		if err != nil {
			return err
		}
		if err := cl.admin.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: secretNamespace, Name: selfSignedKeySecret},
			Data:       map[string][]byte{corev1.TLSPrivateKeyKey: keyPEM},
		}); err != nil {
			return err
		}
		spec.SelfSigned = &cmapi.SelfSignedIssuer{}
		f.annotations = map[string]string{"experimental.cert-manager.io/private-key-secret-name": selfSignedKeySecret}
	default:
		return fmt.Errorf("unknown issuer type %q: ca or selfsigned", c.Issuer)
	}
	if ref.Kind == policyv1alpha1.IssuerKindIssuer {
		return cl.admin.Create(ctx, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}, Spec: spec})
	}
	return cl.admin.Create(ctx, &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: ref.Name}, Spec: spec})
}

// createPolicies makes n policies on the signer. n-1 refuse the requesters (they name other
// users); the one that allows sorts last, so each CSR is evaluated against every policy. The
// allowing one names the approver, whom the creator-approved workloads approve through.
func createPolicies(ctx context.Context, cl *cluster, ref policyv1alpha1.IssuerReference, n int) error {
	for i := range n - 1 {
		p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("other-%04d", i)}, Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef: &ref, Requesters: policyv1alpha1.Subjects{Users: []string{fmt.Sprintf("someone-%d", i)}},
			Allowed: policyv1alpha1.Allowed{DNSNames: []string{fmt.Sprintf("*.team-%d.example.com", i)}},
		}}
		if err := cl.admin.Create(ctx, p); err != nil {
			return err
		}
	}
	return cl.admin.Create(ctx, &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: allowingPolicy}, Spec: policyv1alpha1.SignerPolicySpec{
		IssuerRef: &ref, Requesters: policyv1alpha1.Subjects{Groups: []string{requesterGroup}},
		Approval: policyv1alpha1.Approval{Approvers: &policyv1alpha1.Subjects{Users: []string{approverUser}}},
		Allowed:  policyv1alpha1.Allowed{DNSNames: []string{"*.bench.example.com"}},
	}})
}

// setApprovalMode switches the allowing policy between the operator approving (Automatic) and
// the creators approving (Manual: the operator leaves approval to the approver, and its signing
// gate still holds every CSR to the policy in full).
func setApprovalMode(ctx context.Context, cl *cluster, mode policyv1alpha1.ApprovalMode) error {
	var p policyv1alpha1.SignerPolicy
	if err := cl.admin.Get(ctx, client.ObjectKey{Name: allowingPolicy}, &p); err != nil {
		return err
	}
	if p.Spec.Approval.Mode == mode {
		return nil
	}
	p.Spec.Approval.Mode = mode
	return cl.admin.Update(ctx, &p)
}

// waitForPolicies waits until the operator reports all n policies Ready for their current
// generation, so a mode just switched is in force.
func waitForPolicies(ctx context.Context, cl *cluster, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var list policyv1alpha1.SignerPolicyList
		if err := cl.admin.List(ctx, &list); err != nil {
			return err
		}
		ready := 0
		for _, p := range list.Items {
			if c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == p.Generation {
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
