package controllers

import (
	"context"
	"errors"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// writeCSR's guarantee, case by case: the caller gets a CSR (and so records) exactly when the
// write is stored, whether or not its response arrived.
func TestWriteCSRReturnsTheCSROnlyWhenTheWriteLanded(t *testing.T) {
	lost := errors.New("connection reset")
	conflict := apierrors.NewConflict(schema.GroupResource{Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}, "c", errors.New("changed"))
	stored := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c", Annotations: map[string]string{"mark": "mine"}}}
	tests := []struct {
		name       string
		sendErr    error
		stored     *certificatesv1.CertificateSigningRequest // what a read past the cache finds
		wantCSR    bool
		wantReread bool
	}{
		{name: "delivered", wantCSR: true},
		{name: "conflict: requeue without reading", sendErr: conflict},
		{name: "response lost, write landed", sendErr: lost, stored: stored, wantCSR: true, wantReread: true},
		{name: "response lost, write did not land", sendErr: lost,
			stored: &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, wantReread: true},
		{name: "response lost, CSR unreadable", sendErr: lost, wantReread: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fake.NewClientBuilder().WithScheme(scheme.Scheme)
			if tt.stored != nil {
				b = b.WithObjects(tt.stored.DeepCopy())
			}
			reader := &countingReader{Reader: b.Build()}
			sent := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c"}}
			got, err := writeCSR(context.Background(), reader, sent, csrWrite{
				what:   "writing",
				send:   func(context.Context) error { return tt.sendErr },
				landed: func(c *certificatesv1.CertificateSigningRequest) bool { return c.Annotations["mark"] == "mine" },
			})
			if (got != nil) != tt.wantCSR || (err == nil) != tt.wantCSR {
				t.Fatalf("writeCSR = %v, %v; want a CSR %t", got, err, tt.wantCSR)
			}
			if err != nil && !errors.Is(err, tt.sendErr) {
				t.Errorf("error %v does not wrap the write's error %v", err, tt.sendErr)
			}
			if (reader.gets > 0) != tt.wantReread {
				t.Errorf("read past the cache %d times, want a read %t", reader.gets, tt.wantReread)
			}
		})
	}
}

type countingReader struct {
	client.Reader
	gets int
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.gets++
	return r.Reader.Get(ctx, key, obj, opts...)
}
