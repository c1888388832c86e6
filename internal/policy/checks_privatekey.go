package policy

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

const (
	defaultRSAMinSize   = 2048
	defaultECDSAMinSize = 256
)

func checkPrivateKey(pk *v1alpha1.PrivateKeyPolicy, f *facts) field.ErrorList {
	// A policy that omits spec.privateKey allows every algorithm at the API's default size.
	// Built here rather than by a constructor so it stays on the stack.
	defaults := v1alpha1.PrivateKeyPolicy{
		RSA:     &v1alpha1.RSAKeyPolicy{MinSize: defaultRSAMinSize},
		ECDSA:   &v1alpha1.ECDSAKeyPolicy{MinSize: defaultECDSAMinSize},
		Ed25519: &v1alpha1.Ed25519KeyPolicy{},
	}
	if pk == nil {
		pk = &defaults
	}
	key := f.key
	switch {
	case key.algorithm == keyRSA && pk.RSA != nil:
		return checkKeySize(keyRSA, "RSA", key.bits, pk.RSA.MinSize, defaultRSAMinSize)
	case key.algorithm == keyECDSA && pk.ECDSA != nil:
		return checkKeySize(keyECDSA, "ECDSA", key.bits, pk.ECDSA.MinSize, defaultECDSAMinSize)
	case key.algorithm == keyEd25519 && pk.Ed25519 != nil:
		return nil
	}
	return field.ErrorList{field.NotSupported(field.NewPath("spec", "privateKey"), key.algorithm, allowedAlgorithms(pk))}
}

// checkKeySize treats a minSize of 0 as the API default, which a policy built without the API
// server's defaulting (in tests, or by a client) may lack.
func checkKeySize(policyField, algorithm string, bits int, minSize, fallback int32) field.ErrorList {
	if minSize == 0 {
		minSize = fallback
	}
	if bits >= int(minSize) {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("spec", "privateKey", policyField, "minSize"), int64(bits),
		fmt.Sprintf("the CSR's %s key of %d bits is smaller than the minimum %d", algorithm, bits, minSize))}
}

func allowedAlgorithms(pk *v1alpha1.PrivateKeyPolicy) []string {
	var names []string
	if pk.RSA != nil {
		names = append(names, keyRSA)
	}
	if pk.ECDSA != nil {
		names = append(names, keyECDSA)
	}
	if pk.Ed25519 != nil {
		names = append(names, keyEd25519)
	}
	return names
}
