package csr

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// FuzzRequestedIsCA checks the request-is-ca annotation parser: no value panics; only "true"
// and "false" are accepted, meaning what they say (and what cert-manager, which reads anything
// but "true" as false, reads them as); every other value is a field error on the annotation
// that asks for true or false and never echoes more than a bounded prefix of the value, since
// the error ends up in a CSR condition and an event.
func FuzzRequestedIsCA(f *testing.F) {
	for _, v := range []string{"true", "false", "True", "", " true", "yes", "1", strings.Repeat("x", 100)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value string) {
		isCA, err := RequestedIsCA(csrWithAnnotations(map[string]string{IsCAAnnotation: value}))
		if err == nil {
			if value != "true" && value != "false" {
				t.Fatalf("RequestedIsCA(%q) accepted a value that is neither true nor false", value)
			}
			if isCA != (value == "true") {
				t.Fatalf("RequestedIsCA(%q) = %t", value, isCA)
			}
			return
		}
		if isCA {
			t.Fatalf("RequestedIsCA(%q) = true with error %v", value, err)
		}
		var fe *field.Error
		if !errors.As(err, &fe) || fe.Field != "metadata.annotations["+IsCAAnnotation+"]" {
			t.Fatalf("RequestedIsCA(%q) error %v is not a field error on the annotation", value, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, `"true"`) || !strings.Contains(msg, `"false"`) {
			t.Fatalf("RequestedIsCA(%q) error %q does not say which values are supported", value, msg)
		}
		// The message quotes at most maxQuotedValue bytes of the value, escaped, plus a fixed
		// text; a generous multiple of the limit allows for escaping without letting a large
		// value through.
		if len(msg) > 16*maxQuotedValue+256 {
			t.Fatalf("RequestedIsCA error for a %d-byte value is %d bytes long", len(value), len(msg))
		}
	})
}
