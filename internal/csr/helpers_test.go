package csr

import (
	"errors"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func csrWithAnnotations(annotations map[string]string) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Annotations: annotations},
	}
}

// wantFieldError fails unless err is a *field.Error on path whose message
// mentions every fragment.
func wantFieldError(t *testing.T, err error, path string, fragments ...string) {
	t.Helper()
	var fe *field.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want a *field.Error on %s", err, err, path)
	}
	if fe.Field != path {
		t.Errorf("error field = %q, want %q (error: %v)", fe.Field, path, err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
}
