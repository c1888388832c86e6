package controllers

import (
	"context"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings;clusterroles;clusterrolebindings,verbs=list;watch

// watchRBACFor builds the reference check cache and the watch that drops its allowances when RBAC
// changes. The manager's cache holds only the RBAC objects the operator generates (CacheOptions),
// and a revocation is usually made by hand, so this watch is a cache of its own over every Role,
// RoleBinding, ClusterRole and ClusterRoleBinding, as metadata only and stripped to names and
// resourceVersions: memory stays small in a large cluster, and no rule is read, since any change
// is reason enough to ask the API server again.
func watchRBACFor(ctx context.Context, mgr ctrl.Manager, ttl time.Duration) (*referenceReviews, error) {
	watch, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient: mgr.GetHTTPClient(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		DefaultTransform: keepObjectIdentity,
	})
	if err != nil {
		return nil, fmt.Errorf("building the RBAC watch: %w", err)
	}
	var registrations []toolscache.ResourceEventHandlerRegistration
	reviews := newReferenceReviews(ttl, clock.RealClock{}, func() bool {
		for _, r := range registrations {
			if !r.HasSynced() {
				return false
			}
		}
		return len(registrations) > 0
	})
	for _, kind := range []string{"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"} {
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(rbacv1.SchemeGroupVersion.WithKind(kind))
		informer, err := watch.GetInformer(ctx, obj)
		if err != nil {
			return nil, fmt.Errorf("watching %ss: %w", kind, err)
		}
		onChange := reviews.onNamespacedChange
		if kind == "ClusterRole" || kind == "ClusterRoleBinding" {
			onChange = func(any) { reviews.invalidateAll() }
		}
		r, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    onChange,
			UpdateFunc: func(_, obj any) { onChange(obj) },
			DeleteFunc: onChange,
		})
		if err != nil {
			return nil, fmt.Errorf("watching %ss: %w", kind, err)
		}
		registrations = append(registrations, r)
	}
	// Every replica watches, not only the leader, so that a new leader's watch is already synced.
	// It never holds up the manager's start: until it syncs, every CSR is asked about afresh.
	if err := mgr.Add(watch); err != nil {
		return nil, fmt.Errorf("adding the RBAC watch: %w", err)
	}
	return reviews, nil
}

// onNamespacedChange drops the allowances of the namespace a Role or RoleBinding changed in, or
// every allowance when the namespace cannot be told (a tombstone without a usable key).
func (c *referenceReviews) onNamespacedChange(obj any) {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		if ns, _, err := toolscache.SplitMetaNamespaceKey(tombstone.Key); err == nil && ns != "" {
			c.invalidateNamespace(ns)
			return
		}
		c.invalidateAll()
		return
	}
	o, ok := obj.(metav1.Object)
	if !ok || o.GetNamespace() == "" {
		c.invalidateAll()
		return
	}
	c.invalidateNamespace(o.GetNamespace())
}

// keepObjectIdentity keeps of an RBAC object only what its informer needs to follow it.
func keepObjectIdentity(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
	}}, nil
}
