package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestUsages(t *testing.T) {
	tests := []struct {
		name      string
		allowed   []v1alpha1.KeyUsage
		requested []certificatesv1.KeyUsage
		isCA      bool
		want      []string
	}{
		{name: "default set allows a TLS server", requested: []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"}},
		{name: "default set allows a TLS client", requested: []certificatesv1.KeyUsage{"digital signature", "client auth"}},
		{name: "default set refuses code signing", requested: []certificatesv1.KeyUsage{"digital signature", "code signing"},
			want: []string{"spec.usages FieldValueNotSupported"}},
		{name: "listed set", allowed: []v1alpha1.KeyUsage{"digital signature", "code signing"},
			requested: []certificatesv1.KeyUsage{"code signing"}},
		{name: "each refused usage reported", allowed: []v1alpha1.KeyUsage{"digital signature"},
			requested: []certificatesv1.KeyUsage{"digital signature", "server auth", "cert sign"},
			want:      []string{"spec.usages FieldValueNotSupported", "spec.usages FieldValueNotSupported"}},
		// Without an extended key usage a leaf is valid for every purpose, client auth included.
		{name: "no extended usage on a leaf asks for any purpose", requested: []certificatesv1.KeyUsage{"digital signature", "key encipherment"},
			want: []string{"spec.usages FieldValueForbidden"}},
		{name: "no usages at all on a leaf", requested: nil, want: []string{"spec.usages FieldValueForbidden"}},
		{name: "no extended usage where the policy allows any", allowed: []v1alpha1.KeyUsage{"digital signature", "any"},
			requested: []certificatesv1.KeyUsage{"digital signature"}},
		{name: "a CA needs no extended usage", allowed: []v1alpha1.KeyUsage{"digital signature", "cert sign"},
			requested: []certificatesv1.KeyUsage{"digital signature", "cert sign"}, isCA: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.Usages = tt.allowed
			p.Spec.AllowCA = tt.isCA
			req := baseRequest(t, baseTemplate())
			req.Usages, req.IsCA = tt.requested, tt.isCA
			assertFields(t, violations(&p, req), tt.want...)
		})
	}
}

func TestUsagesAgreeWithExtensions(t *testing.T) {
	keyUsage := func(ku x509.KeyUsage) pkix.Extension {
		ext, err := pki.MarshalKeyUsage(ku)
		if err != nil {
			t.Fatal(err)
		}
		return ext
	}
	extKeyUsage := func(eku []x509.ExtKeyUsage, unknown ...asn1.ObjectIdentifier) pkix.Extension {
		ext, err := pki.MarshalExtKeyUsage(eku, unknown)
		if err != nil {
			t.Fatal(err)
		}
		return ext
	}
	tests := []struct {
		name       string
		extensions []pkix.Extension
		want       []string
		wantValue  string
	}{
		{name: "no extensions"},
		{name: "same usages", extensions: []pkix.Extension{
			keyUsage(x509.KeyUsageDigitalSignature),
			extKeyUsage([]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}),
		}},
		{name: "fewer usages", extensions: []pkix.Extension{extKeyUsage(nil)}},
		{name: "KeyUsage asks for cert sign", extensions: []pkix.Extension{keyUsage(x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign)},
			want: []string{"spec.usages FieldValueInvalid"}, wantValue: "cert sign"},
		{name: "ExtKeyUsage asks for client auth", extensions: []pkix.Extension{extKeyUsage([]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth})},
			want: []string{"spec.usages FieldValueInvalid"}, wantValue: "client auth"},
		{name: "ExtKeyUsage asks for an OID Kubernetes cannot name", extensions: []pkix.Extension{extKeyUsage(nil, asn1.ObjectIdentifier{1, 2, 3, 4})},
			want: []string{"spec.usages FieldValueInvalid"}, wantValue: "1.2.3.4"},
		{name: "unreadable KeyUsage", extensions: []pkix.Extension{{Id: pki.OIDExtensionKeyUsage, Value: []byte{0x01}}},
			want: []string{"spec.usages FieldValueForbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			template := baseTemplate()
			template.ExtraExtensions = tt.extensions
			req := baseRequest(t, template) // spec.usages: digital signature, server auth
			errs := violations(&p, req)
			assertFields(t, errs, tt.want...)
			if tt.wantValue == "" {
				return
			}
			if v, _ := errs[0].BadValue.(string); !strings.Contains(v, tt.wantValue) {
				t.Errorf("value %q does not name %q", v, tt.wantValue)
			}
			if !strings.Contains(errs[0].Detail, "disagrees with its spec.usages") {
				t.Errorf("detail %q does not say the extension disagrees with spec.usages", errs[0].Detail)
			}
		})
	}
}
