package policy

import (
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
)

func TestCA(t *testing.T) {
	basicConstraints := func(isCA bool) []pkix.Extension {
		ext, err := pki.MarshalBasicConstraints(isCA, nil)
		if err != nil {
			t.Fatal(err)
		}
		return []pkix.Extension{ext}
	}
	tests := []struct {
		name       string
		allowCA    bool
		isCA       bool
		extensions []pkix.Extension
		want       []string
	}{
		{name: "leaf, no extension"},
		{name: "CA allowed", allowCA: true, isCA: true},
		{name: "CA not allowed", isCA: true, want: []string{"spec.allowCA FieldValueForbidden"}},
		{name: "extension agrees with CA", allowCA: true, isCA: true, extensions: basicConstraints(true)},
		{name: "extension agrees with leaf", extensions: basicConstraints(false)},
		{name: "extension asks for CA, annotation does not", allowCA: true, extensions: basicConstraints(true),
			want: []string{"spec.allowCA FieldValueInvalid"}},
		{name: "annotation asks for CA, extension does not", allowCA: true, isCA: true, extensions: basicConstraints(false),
			want: []string{"spec.allowCA FieldValueInvalid"}},
		{name: "extension asks for CA that the policy forbids", extensions: basicConstraints(true),
			want: []string{"spec.allowCA FieldValueInvalid"}},
		{name: "unreadable extension", extensions: []pkix.Extension{{Id: pki.OIDExtensionBasicConstraints, Value: []byte{0xff}}},
			want: []string{"spec.allowCA FieldValueForbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.AllowCA = tt.allowCA
			template := baseTemplate()
			template.ExtraExtensions = tt.extensions
			req := baseRequest(t, template)
			req.IsCA = tt.isCA
			errs := violations(&p, req)
			assertFields(t, errs, tt.want...)
			for _, e := range errs {
				if e.Type == "FieldValueInvalid" && !strings.Contains(e.Detail, "disagrees with its annotation") {
					t.Errorf("detail %q does not say the CSR disagrees with its annotation", e.Detail)
				}
			}
		})
	}
}

// x509.ParseCertificateRequest refuses duplicate extensions, but Request.CSR may come from
// elsewhere, so a second, conflicting BasicConstraints must not be skipped.
func TestCAConflictingExtensions(t *testing.T) {
	p := basePolicy("p")
	p.Spec.AllowCA = true
	req := baseRequest(t, baseTemplate())
	req.IsCA = true
	for _, isCA := range []bool{true, false} {
		ext, err := pki.MarshalBasicConstraints(isCA, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.CSR.Extensions = append(req.CSR.Extensions, ext)
	}
	assertFields(t, violations(&p, req), "spec.allowCA FieldValueForbidden")
}
