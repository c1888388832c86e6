package csr

import (
	"errors"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// errNilCSR guards every exported helper so a caller's bug becomes an error
// instead of a panic in the controller.
var errNilCSR = errors.New("nil CertificateSigningRequest")

// maxQuotedValue bounds how much of a requester-supplied value is echoed into
// errors: they end up in condition messages and events, which should stay
// readable however large the annotation someone wrote.
const maxQuotedValue = 64

func annotationPath(key string) *field.Path {
	return field.NewPath("metadata", "annotations").Key(key)
}

// shorten truncates s to maxQuotedValue bytes for quoting in an error message.
func shorten(s string) string {
	if len(s) <= maxQuotedValue {
		return s
	}
	return s[:maxQuotedValue] + "..."
}
