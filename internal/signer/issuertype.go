// Package signer holds what the signing controller and the issuer-specific signers share.
package signer

import (
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
)

// IssuerType is the kind of backend a cert-manager issuer is configured for.
type IssuerType string

// The issuer types of cert-manager's IssuerConfig.
const (
	TypeCA         IssuerType = "CA"
	TypeSelfSigned IssuerType = "SelfSigned"
	TypeVault      IssuerType = "Vault"
	TypeVenafi     IssuerType = "Venafi"
	TypeACME       IssuerType = "ACME"
)

// TypeOf returns the type an issuer spec is configured for. cert-manager's schema allows exactly
// one; an issuer with none (an external issuer) reports false.
func TypeOf(spec *cmapi.IssuerSpec) (IssuerType, bool) {
	switch {
	case spec.CA != nil:
		return TypeCA, true
	case spec.SelfSigned != nil:
		return TypeSelfSigned, true
	case spec.Vault != nil:
		return TypeVault, true
	case spec.Venafi != nil:
		return TypeVenafi, true
	case spec.ACME != nil:
		return TypeACME, true
	}
	return "", false
}
