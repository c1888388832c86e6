package controllers

import (
	"context"
	"slices"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
)

// The reference check asks about the issuer's own name, then about "*" (any issuer in the
// namespace, a name RBAC grants literally), with the requester's whole identity from the CSR.
// A policy's generated Role grants the name itself, so on a real API server the fallback is
// reached only through RBAC made by hand; this test pins what is asked.
func TestMayReferenceAsksForTheNameThenStarWithTheRequestersIdentity(t *testing.T) {
	c := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
		Username: "alice", UID: "u-1", Groups: []string{"team-a", "system:authenticated"},
		Extra: map[string]certificatesv1.ExtraValue{"scopes": {"x"}},
	}}
	ref := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: "team-a", Name: "ca"}
	for _, tt := range []struct {
		name      string
		allowed   string // the resource name the fake authorizer allows
		want      bool
		wantNames []string
	}{
		{name: "allowed by name", allowed: "ca", want: true, wantNames: []string{"ca"}},
		{name: "allowed only for *", allowed: "*", want: true, wantNames: []string{"ca", "*"}},
		{name: "allowed for neither", allowed: "other", want: false, wantNames: []string{"ca", "*"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var asked []authorizationv1.SubjectAccessReviewSpec
			cl := fake.NewClientBuilder().WithScheme(signertest.Scheme(t)).WithInterceptorFuncs(interceptor.Funcs{
				Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
					sar := obj.(*authorizationv1.SubjectAccessReview)
					asked = append(asked, sar.Spec)
					sar.Status.Allowed = sar.Spec.ResourceAttributes.Name == tt.allowed
					return nil
				},
			}).Build()
			r := &SigningReconciler{Client: cl}
			got, err := r.mayReference(context.Background(), c, ref)
			if err != nil || got != tt.want {
				t.Fatalf("mayReference = %t, %v; want %t", got, err, tt.want)
			}
			var names []string
			for _, spec := range asked {
				a := spec.ResourceAttributes
				names = append(names, a.Name)
				if spec.User != "alice" || spec.UID != "u-1" || !slices.Equal(spec.Groups, c.Spec.Groups) || spec.Extra["scopes"][0] != "x" {
					t.Errorf("asked for %+v, want alice's whole identity", spec)
				}
				if a.Group != "cert-manager.io" || a.Resource != "signers" || a.Verb != "reference" || a.Namespace != "team-a" {
					t.Errorf("asked about %+v, want reference on cert-manager.io signers in team-a", a)
				}
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("asked about names %v, want %v", names, tt.wantNames)
			}
		})
	}
}
