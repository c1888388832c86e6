package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	// An issuer on its way out is governed no more: its namespace may be terminating, where no
	// reference Role can be written.
	add := func(ref policyv1alpha1.IssuerReference, obj metav1.Object, spec *cmapi.IssuerSpec, namespaceLabels map[string]string) {
		if obj.GetDeletionTimestamp() == nil && policy.Governs(&p.Spec, ref, namespaceLabels) {
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
			add(policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: list.Items[i].Name}, &list.Items[i], &list.Items[i].Spec, nil)
		}
	} else {
		var list cmapi.IssuerList
		if err := r.Client.List(ctx, &list, readOnly); err != nil {
			return nil, fmt.Errorf("listing Issuers: %w", err)
		}
		// Labels by namespace; nil for a namespace that is gone or going, where no reference Role
		// can be written and which a selection therefore no longer governs.
		labels := map[string]map[string]string{}
		for i := range list.Items {
			ns := list.Items[i].Namespace
			if _, read := labels[ns]; !read {
				var n corev1.Namespace
				if err := r.Client.Get(ctx, client.ObjectKey{Name: ns}, &n); client.IgnoreNotFound(err) != nil {
					return nil, fmt.Errorf("reading namespace %s: %w", ns, err)
				}
				labels[ns] = nil
				if n.Name != "" && n.DeletionTimestamp == nil {
					labels[ns] = n.Labels
					if labels[ns] == nil {
						labels[ns] = map[string]string{}
					}
				}
			}
			if labels[ns] == nil {
				continue
			}
			add(policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: list.Items[i].Name}, &list.Items[i], &list.Items[i].Spec, labels[ns])
		}
	}
	slices.SortFunc(found, func(a, b observedIssuer) int { return strings.Compare(a.ref.SignerName(), b.ref.SignerName()) })
	return found, nil
}

// governedRefs are the issuers whose RBAC and signer names the policy carries: all it observed,
// or none when they are more than maxGovernedIssuers, since such a policy is not in force and
// grants nothing.
func governedRefs(issuers []observedIssuer) []policyv1alpha1.IssuerReference {
	if len(issuers) > maxGovernedIssuers {
		return nil
	}
	refs := make([]policyv1alpha1.IssuerReference, 0, len(issuers))
	for _, i := range issuers {
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
