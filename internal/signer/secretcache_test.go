package signer

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

type countingReader struct {
	client.Reader
	gets int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.Reader.Get(ctx, key, obj, opts...)
}

// A CA's Secret is read from the API server once, then from memory until the watch sees it
// change: a rotated key is read afresh, and a deleted Secret is not found.
func TestSecretCacheReadsAgainOnlyWhenTheWatchSeesAChange(t *testing.T) {
	ctx := context.Background()
	store := fake.NewClientBuilder().WithObjects(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ca"}, Data: map[string][]byte{"tls.key": []byte("old")}}).Build()
	api := &countingReader{Reader: store}
	c := NewSecretCache(api, store)
	key := client.ObjectKey{Namespace: "ns", Name: "ca"}
	read := func() string {
		t.Helper()
		var s corev1.Secret
		if err := c.Get(ctx, key, &s); err != nil {
			t.Fatal(err)
		}
		return string(s.Data["tls.key"])
	}
	for range 3 {
		if got := read(); got != "old" {
			t.Fatalf("read %q", got)
		}
	}
	if api.gets != 1 {
		t.Errorf("%d API reads for three reads of an unchanged Secret, want 1", api.gets)
	}
	var s corev1.Secret
	if err := store.Get(ctx, key, &s); err != nil {
		t.Fatal(err)
	}
	s.Data["tls.key"] = []byte("rotated")
	if err := store.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "rotated" {
		t.Errorf("after rotation read %q, want the new key", got)
	}
	// What a caller does with its copy never reaches the cache.
	var mine corev1.Secret
	_ = c.Get(ctx, key, &mine)
	mine.Data["tls.key"][0] = 'X'
	if got := read(); got != "rotated" {
		t.Errorf("a caller's edit leaked into the cache: %q", got)
	}
	if err := store.Delete(ctx, &s); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, key, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("a deleted Secret read as %v, want NotFound", err)
	}
}
