package policy

import (
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// CheckBounds checks what signing enforces whoever approved the CSR: the CA flag and the usages.
// The CSR's own extensions are not consulted here; the signer's certificate template refuses a
// request whose extensions disagree with what is issued.
func CheckBounds(spec *v1alpha1.SignerPolicySpec, isCA bool, usages []certificatesv1.KeyUsage) field.ErrorList {
	var none facts
	return append(checkCA(spec, isCA, &none), checkUsages(spec, usages, &none)...)
}
