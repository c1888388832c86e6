package signer

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretCache reads Secrets for a signer on the hot path (a CA issuer's keypair, read for every
// CSR): the first read of a Secret goes to the API server, and later reads come from memory as
// long as the Secret's resourceVersion, as the metadata-only watch of Secrets sees it, is the one
// read. A rotated Secret is read afresh as soon as the watch sees the change; a deleted one is
// dropped. Only the Secrets a signer actually reads are held, never every Secret's data. Reads of
// any other kind go to the API server.
type SecretCache struct {
	api client.Reader
	// meta reads Secrets' metadata from the manager's cache (the signing controller already
	// watches Secrets as metadata only).
	meta client.Reader

	mu    sync.Mutex
	byKey map[client.ObjectKey]*corev1.Secret
}

// NewSecretCache reads past the cache with api and checks resourceVersions with meta.
func NewSecretCache(api, meta client.Reader) *SecretCache {
	return &SecretCache{api: api, meta: meta, byKey: map[client.ObjectKey]*corev1.Secret{}}
}

var _ client.Reader = (*SecretCache)(nil)

// Get reads a Secret from memory when the watch says it has not changed since it was read.
func (c *SecretCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	secret, ok := obj.(*corev1.Secret)
	if !ok {
		return c.api.Get(ctx, key, obj, opts...)
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	metaErr := c.meta.Get(ctx, key, meta)
	if metaErr == nil {
		c.mu.Lock()
		cached := c.byKey[key]
		c.mu.Unlock()
		if cached != nil && cached.ResourceVersion == meta.ResourceVersion {
			cached.DeepCopyInto(secret)
			return nil
		}
	}
	// Not seen by the watch yet (just created), changed, or never read: the API server decides.
	if err := c.api.Get(ctx, key, secret, opts...); err != nil {
		if apierrors.IsNotFound(err) {
			c.mu.Lock()
			delete(c.byKey, key)
			c.mu.Unlock()
		}
		return err
	}
	if metaErr == nil && secret.ResourceVersion == meta.ResourceVersion {
		// Kept only when the watch has caught up with what was read, so that what is kept is
		// never newer than what the watch can tell has changed.
		c.mu.Lock()
		c.byKey[key] = secret.DeepCopy()
		c.mu.Unlock()
	}
	return nil
}

// List goes to the API server.
func (c *SecretCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.api.List(ctx, list, opts...)
}
