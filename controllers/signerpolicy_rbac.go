package controllers

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
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

// Reasons of the events that say what the policy's RBAC became.
const (
	ReasonRBACCreated = "RBACCreated"
	ReasonRBACUpdated = "RBACUpdated"
	ReasonRBACDeleted = "RBACDeleted"
)

// rbacChange is one generated object the reconcile wrote, for an event on the policy.
type rbacChange struct{ reason, message string }

// applyRBAC server-side applies every object the policy implies and deletes the ones it no
// longer implies, returning references to what now exists and what it had to change. Forcing
// ownership is what reverts drift: a hand edit of a generated Role is overwritten on the next
// reconcile.
func (r *SignerPolicyReconciler) applyRBAC(ctx context.Context, p *policyv1alpha1.SignerPolicy) ([]policyv1alpha1.GeneratedObject, []rbacChange, error) {
	desired := rbac.ForPolicy(p)
	keep := make(map[policyv1alpha1.GeneratedObject]bool, len(desired))
	refs := make([]policyv1alpha1.GeneratedObject, 0, len(desired))
	var changes []rbacChange
	for _, obj := range desired {
		change, err := r.apply(ctx, obj)
		if err != nil {
			return nil, changes, err
		}
		if change != nil {
			changes = append(changes, *change)
		}
		ref := policyv1alpha1.GeneratedObject{Kind: obj.Kind, Name: obj.Name, Namespace: obj.Namespace}
		keep[ref] = true
		refs = append(refs, ref)
	}
	deleted, err := r.deleteGenerated(ctx, p.Name, keep)
	for _, ref := range deleted {
		changes = append(changes, rbacChange{ReasonRBACDeleted, fmt.Sprintf("deleted %s %s: the policy no longer implies it", ref.Kind, describeRef(ref))})
	}
	return refs, changes, err
}

// apply writes one generated object with its typed apply configuration and reports whether that
// created or changed it. The object as the cache last saw it tells which: a resourceVersion the
// apply moved on means the object differed from the policy (drift or a policy edit).
func (r *SignerPolicyReconciler) apply(ctx context.Context, obj rbac.Object) (*rbacChange, error) {
	what := describeRef(policyv1alpha1.GeneratedObject{Name: obj.Name, Namespace: obj.Namespace})
	seen, ok := emptyRBACObject(obj.Kind)
	if !ok {
		return nil, fmt.Errorf("rendered an object of unknown kind %s", obj.Kind)
	}
	found := true
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: obj.Name}, seen); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading %s %s: %w", obj.Kind, what, err)
		}
		found = false
	}
	if err := r.Client.Apply(ctx, obj.Apply, fieldOwner, client.ForceOwnership); err != nil {
		return nil, fmt.Errorf("applying %s %s: %w", obj.Kind, what, err)
	}
	switch {
	case !found:
		return &rbacChange{ReasonRBACCreated, fmt.Sprintf("created %s %s", obj.Kind, what)}, nil
	case ptr.Deref(obj.Meta.ResourceVersion, "") != seen.GetResourceVersion():
		return &rbacChange{ReasonRBACUpdated, fmt.Sprintf("updated %s %s to what the policy implies", obj.Kind, what)}, nil
	}
	return nil, nil
}

func emptyRBACObject(kind string) (client.Object, bool) {
	switch kind {
	case "Role":
		return &rbacv1.Role{}, true
	case "RoleBinding":
		return &rbacv1.RoleBinding{}, true
	case "ClusterRole":
		return &rbacv1.ClusterRole{}, true
	case "ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}, true
	}
	return nil, false
}

// deleteGenerated deletes the objects labelled for the policy that are not in keep, returning
// what it deleted. With an empty keep it removes all of them, which is how a deleted policy's
// grants are withdrawn at once rather than whenever the garbage collector follows the owner
// references.
func (r *SignerPolicyReconciler) deleteGenerated(ctx context.Context, policyName string, keep map[policyv1alpha1.GeneratedObject]bool) ([]policyv1alpha1.GeneratedObject, error) {
	selector := client.MatchingLabels{rbac.PolicyLabel: rbac.PolicyLabelValue(policyName), rbac.ManagedByLabel: rbac.ManagedByValue}
	lists := []struct {
		kind string
		list client.ObjectList
	}{
		{"Role", &rbacv1.RoleList{}}, {"RoleBinding", &rbacv1.RoleBindingList{}},
		{"ClusterRole", &rbacv1.ClusterRoleList{}}, {"ClusterRoleBinding", &rbacv1.ClusterRoleBindingList{}},
	}
	var deleted []policyv1alpha1.GeneratedObject
	for _, l := range lists {
		if err := r.Client.List(ctx, l.list, selector); err != nil {
			return deleted, fmt.Errorf("listing generated %ss: %w", l.kind, err)
		}
		items, err := meta.ExtractList(l.list)
		if err != nil {
			return deleted, err
		}
		for _, item := range items {
			obj := item.(client.Object)
			ref := generatedRef(l.kind, obj)
			if keep[ref] {
				continue
			}
			err := r.Client.Delete(ctx, obj)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return deleted, fmt.Errorf("deleting %s %s: %w", l.kind, describeObject(obj), err)
			}
			deleted = append(deleted, ref)
		}
	}
	return deleted, nil
}

func describeRef(ref policyv1alpha1.GeneratedObject) string {
	if ref.Namespace == "" {
		return ref.Name
	}
	return ref.Namespace + "/" + ref.Name
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
