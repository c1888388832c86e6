package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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
func (r *SignerPolicyReconciler) applyRBAC(ctx context.Context, p *policyv1alpha1.SignerPolicy, issuers []policyv1alpha1.IssuerReference) ([]policyv1alpha1.GeneratedObject, []rbacChange, error) {
	selected, err := r.selectedNamespaces(ctx, &p.Spec.Requesters)
	if err != nil {
		return nil, nil, err
	}
	return r.applyObjects(ctx, p.Name, rbac.ForPolicy(p, issuers, selected))
}

// applyObjects applies desired, the objects the policy called key implies, and deletes the
// objects labelled for it that are not among them.
func (r *SignerPolicyReconciler) applyObjects(ctx context.Context, key string, desired []rbac.Object) ([]policyv1alpha1.GeneratedObject, []rbacChange, error) {
	keep := make(map[policyv1alpha1.GeneratedObject]bool, len(desired))
	refs := make([]policyv1alpha1.GeneratedObject, 0, len(desired))
	var changes []rbacChange
	var applyErrs []error
	// One object that cannot be written (a namespace being deleted refuses new Roles) must not
	// keep the others from being written, nor what the policy no longer implies from going.
	for _, obj := range desired {
		ref := policyv1alpha1.GeneratedObject{Kind: obj.Kind, Name: obj.Name, Namespace: obj.Namespace}
		keep[ref] = true
		refs = append(refs, ref)
		change, err := r.apply(ctx, obj)
		if err != nil {
			if obj.Namespace != "" {
				err = &namespacedRBACError{namespace: obj.Namespace, err: err}
			}
			applyErrs = append(applyErrs, err)
			continue
		}
		if change != nil {
			changes = append(changes, *change)
		}
	}
	deleted, err := r.deleteGenerated(ctx, key, keep)
	for _, ref := range deleted {
		changes = append(changes, rbacChange{ReasonRBACDeleted, fmt.Sprintf("deleted %s %s: the policy no longer implies it", ref.Kind, describeRef(ref))})
	}
	return refs, changes, errors.Join(append(applyErrs, err)...)
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
	err := r.Client.Apply(ctx, obj.Apply, fieldOwner, client.ForceOwnership)
	if apierrors.IsInvalid(err) && (obj.Kind == "RoleBinding" || obj.Kind == "ClusterRoleBinding") {
		// What is applied is valid, so the binding under the generated name is someone else's,
		// made with another roleRef, which cannot change: it is replaced, or it would keep its
		// grant and refuse ours for good. The cache, which holds only generated objects, cannot
		// see it, so it is deleted by name.
		stranger, _ := emptyRBACObject(obj.Kind)
		stranger.SetNamespace(obj.Namespace)
		stranger.SetName(obj.Name)
		if err := r.Client.Delete(ctx, stranger); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("replacing %s %s, whose roleRef is not the policy's: %w", obj.Kind, what, err)
		}
		found = false
		err = r.Client.Apply(ctx, obj.Apply, fieldOwner, client.ForceOwnership)
	}
	if err != nil {
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

// namespacedRBACError is a generated object in one namespace that could not be written. It
// concerns only that namespace's Issuers, whose requesters the signing gate's SubjectAccessReview
// then refuses; it does not take the whole policy out of force, since whoever administers that
// namespace could otherwise do so for every other namespace the policy governs.
type namespacedRBACError struct {
	namespace string
	err       error
}

func (e *namespacedRBACError) Error() string { return e.err.Error() }
func (e *namespacedRBACError) Unwrap() error { return e.err }

// outOfForce is the part of an RBAC error that takes a policy out of force: nil when every object
// that failed lives in a namespace.
func outOfForce(err error) error {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	var rest []error
	for _, e := range errs {
		var n *namespacedRBACError
		if !errors.As(e, &n) {
			rest = append(rest, e)
		}
	}
	return errors.Join(rest...)
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

// selectedNamespaces lists, sorted, the namespaces the requesters' service account selectors
// select now. A selector that does not parse selects nothing; the Ready condition says why.
func (r *SignerPolicyReconciler) selectedNamespaces(ctx context.Context, s *policyv1alpha1.Subjects) ([]string, error) {
	if len(s.ServiceAccountSelectors) == 0 {
		return nil, nil
	}
	var selectors []labels.Selector
	for i := range s.ServiceAccountSelectors {
		if sel, err := metav1.LabelSelectorAsSelector(&s.ServiceAccountSelectors[i].NamespaceSelector); err == nil && !sel.Empty() {
			selectors = append(selectors, sel)
		}
	}
	var namespaces corev1.NamespaceList
	if err := r.Client.List(ctx, &namespaces, readOnly); err != nil {
		return nil, fmt.Errorf("listing namespaces for the service account selectors: %w", err)
	}
	var selected []string
	for _, ns := range namespaces.Items {
		if slices.ContainsFunc(selectors, func(sel labels.Selector) bool { return sel.Matches(labels.Set(ns.Labels)) }) {
			selected = append(selected, ns.Name)
		}
	}
	slices.Sort(selected)
	return selected, nil
}

// policiesWithSelectors requests every policy a namespace's labels matter to: those selecting
// requesters or Issuers by namespace. A namespace arriving, leaving or changing labels may change
// what they govern and the RBAC that follows.
func (r *SignerPolicyReconciler) policiesWithSelectors(ctx context.Context, _ client.Object) []reconcile.Request {
	return r.policiesWhere(ctx, func(p *policyv1alpha1.SignerPolicy) bool {
		return len(p.Spec.Requesters.ServiceAccountSelectors) > 0 || (p.Spec.Issuers != nil && p.Spec.Issuers.NamespaceSelector != nil)
	})
}

// policiesWhere requests every policy keep accepts.
func (r *SignerPolicyReconciler) policiesWhere(ctx context.Context, keep func(*policyv1alpha1.SignerPolicy) bool) []reconcile.Request {
	var list policyv1alpha1.SignerPolicyList
	if err := r.Client.List(ctx, &list, readOnly); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing SignerPolicies")
		return nil
	}
	return requestsWhere(list.Items, keep)
}
