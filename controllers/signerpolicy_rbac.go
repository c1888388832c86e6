package controllers

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/rbac"
)

// fieldOwner is the server-side apply field manager of everything the operator writes.
const fieldOwner = client.FieldOwner("signer-policy-operator")

// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings;clusterroles;clusterrolebindings,verbs=get;list;watch;create;update;patch;delete
// The API server lets the operator grant only what it holds itself (no escalate or bind), so it
// holds each permission the generated objects grant:
// +kubebuilder:rbac:groups=cert-manager.io,resources=signers,verbs=reference
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=create;get;list;watch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/approval,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,verbs=approve

// applyRBAC server-side applies every object the policy implies and deletes the ones it no
// longer implies, returning references to what now exists. Forcing ownership is what reverts
// drift: a hand edit of a generated Role is overwritten on the next reconcile.
func (r *SignerPolicyReconciler) applyRBAC(ctx context.Context, p *policyv1alpha1.SignerPolicy) ([]policyv1alpha1.GeneratedObject, error) {
	desired := rbac.ForPolicy(p)
	keep := make(map[policyv1alpha1.GeneratedObject]bool, len(desired))
	refs := make([]policyv1alpha1.GeneratedObject, 0, len(desired))
	for _, obj := range desired {
		if err := r.apply(ctx, obj); err != nil {
			return nil, err
		}
		ref := generatedRef(obj.GetObjectKind().GroupVersionKind().Kind, obj)
		keep[ref] = true
		refs = append(refs, ref)
	}
	return refs, r.deleteGenerated(ctx, p.Name, keep)
}

func (r *SignerPolicyReconciler) apply(ctx context.Context, obj client.Object) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: content}
	// A typed object converts with a null creationTimestamp, which apply would try to own.
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), fieldOwner, client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s: %w", u.GetKind(), describeObject(obj), err)
	}
	return nil
}

// deleteGenerated deletes the objects labelled for the policy that are not in keep. With an empty
// keep it removes all of them, which is how a deleted policy's grants are withdrawn at once
// rather than whenever the garbage collector follows the owner references.
func (r *SignerPolicyReconciler) deleteGenerated(ctx context.Context, policyName string, keep map[policyv1alpha1.GeneratedObject]bool) error {
	selector := client.MatchingLabels{rbac.PolicyLabel: rbac.PolicyLabelValue(policyName), rbac.ManagedByLabel: rbac.ManagedByValue}
	lists := []struct {
		kind string
		list client.ObjectList
	}{
		{"Role", &rbacv1.RoleList{}}, {"RoleBinding", &rbacv1.RoleBindingList{}},
		{"ClusterRole", &rbacv1.ClusterRoleList{}}, {"ClusterRoleBinding", &rbacv1.ClusterRoleBindingList{}},
	}
	for _, l := range lists {
		if err := r.Client.List(ctx, l.list, selector); err != nil {
			return fmt.Errorf("listing generated %ss: %w", l.kind, err)
		}
		items, err := meta.ExtractList(l.list)
		if err != nil {
			return err
		}
		for _, item := range items {
			obj := item.(client.Object)
			if keep[generatedRef(l.kind, obj)] {
				continue
			}
			if err := client.IgnoreNotFound(r.Client.Delete(ctx, obj)); err != nil {
				return fmt.Errorf("deleting %s %s: %w", l.kind, describeObject(obj), err)
			}
		}
	}
	return nil
}

func generatedRef(kind string, obj client.Object) policyv1alpha1.GeneratedObject {
	return policyv1alpha1.GeneratedObject{Kind: kind, Name: obj.GetName(), Namespace: obj.GetNamespace()}
}

func describeObject(obj client.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}
