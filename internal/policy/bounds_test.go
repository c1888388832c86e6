package policy

import (
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestCheckBounds(t *testing.T) {
	spec := &v1alpha1.SignerPolicySpec{Usages: []v1alpha1.KeyUsage{"digital signature", "server auth"}}
	if errs := CheckBounds(spec, false, []certificatesv1.KeyUsage{"server auth"}); len(errs) != 0 {
		t.Errorf("allowed usage refused: %v", errs)
	}
	assertFields(t, CheckBounds(spec, true, nil), "spec.allowCA FieldValueForbidden")
	assertFields(t, CheckBounds(spec, false, []certificatesv1.KeyUsage{"client auth"}), "spec.usages FieldValueNotSupported")
	spec.AllowCA = true
	if errs := CheckBounds(spec, true, []certificatesv1.KeyUsage{"digital signature"}); len(errs) != 0 {
		t.Errorf("CA allowed by allowCA refused: %v", errs)
	}
}
