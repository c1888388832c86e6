package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// maxGovernedIssuers bounds the issuers one policy governs, as status.signerNames lists them: a
// selection of more is not in force, and says to narrow it.
const maxGovernedIssuers = 1024

// observedIssuer is an issuer a policy governs, as the SignerPolicy controller found it.
type observedIssuer struct {
	ref   policyv1alpha1.IssuerReference
	found bool
	// typ is the issuer's configured type; empty when it configures none we know.
	typ signer.IssuerType
}

// observeIssuers finds the issuers a policy governs: its issuerRef, found or not, or the existing
// issuers its selection selects, by signer name. Not finding an issuer is an observation, not an
// error.
func (r *SignerPolicyReconciler) observeIssuers(ctx context.Context, p *policyv1alpha1.SignerPolicy) ([]observedIssuer, error) {
	if ref := p.Spec.IssuerRef; ref != nil {
		issuer, err := signer.GetIssuer(ctx, r.Client, *ref)
		if apierrors.IsNotFound(err) {
			return []observedIssuer{{ref: *ref}}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", ref, err)
		}
		typ, _ := signer.TypeOf(issuer.GetSpec())
		return []observedIssuer{{ref: *ref, found: true, typ: typ}}, nil
	}
	if p.Spec.Issuers == nil {
		return nil, nil
	}
	var found []observedIssuer
	add := func(ref policyv1alpha1.IssuerReference, spec *cmapi.IssuerSpec, namespaceLabels map[string]string) {
		if policy.Governs(&p.Spec, ref, namespaceLabels) {
			typ, _ := signer.TypeOf(spec)
			found = append(found, observedIssuer{ref: ref, found: true, typ: typ})
		}
	}
	if p.Spec.Issuers.Kind == policyv1alpha1.IssuerKindClusterIssuer {
		var list cmapi.ClusterIssuerList
		if err := r.Client.List(ctx, &list, readOnly); err != nil {
			return nil, fmt.Errorf("listing ClusterIssuers: %w", err)
		}
		for i := range list.Items {
			add(policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: list.Items[i].Name}, &list.Items[i].Spec, nil)
		}
	} else {
		var list cmapi.IssuerList
		if err := r.Client.List(ctx, &list, readOnly); err != nil {
			return nil, fmt.Errorf("listing Issuers: %w", err)
		}
		labels := map[string]map[string]string{}
		for i := range list.Items {
			ns := list.Items[i].Namespace
			if _, read := labels[ns]; !read {
				l, err := namespaceLabels(ctx, r.Client, ns)
				if err != nil {
					return nil, err
				}
				labels[ns] = l
			}
			add(policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: list.Items[i].Name}, &list.Items[i].Spec, labels[ns])
		}
	}
	slices.SortFunc(found, func(a, b observedIssuer) int { return strings.Compare(a.ref.SignerName(), b.ref.SignerName()) })
	return found, nil
}

// governedRefs are the issuers whose RBAC and signer names the policy carries: all it observed, up
// to maxGovernedIssuers.
func governedRefs(issuers []observedIssuer) []policyv1alpha1.IssuerReference {
	refs := make([]policyv1alpha1.IssuerReference, 0, min(len(issuers), maxGovernedIssuers))
	for _, i := range issuers[:min(len(issuers), maxGovernedIssuers)] {
		refs = append(refs, i.ref)
	}
	return refs
}

func signerNamesOf(refs []policyv1alpha1.IssuerReference) []string {
	names := make([]string, 0, len(refs))
	for _, ref := range refs {
		names = append(names, ref.SignerName())
	}
	return names
}
