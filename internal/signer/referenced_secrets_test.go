package signer

import (
	"slices"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

func ref(name string) cmmeta.SecretKeySelector {
	return cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: name}}
}

func TestReferencedSecrets(t *testing.T) {
	tests := []struct {
		name string
		cfg  cmapi.IssuerConfig
		want []string
	}{
		{"CA", cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca-pair"}}, []string{"ca-pair"}},
		{"Vault AppRole with mTLS and a CA bundle", cmapi.IssuerConfig{Vault: &cmapi.VaultIssuer{
			Auth:                cmapi.VaultAuth{AppRole: &cmapi.VaultAppRole{SecretRef: ref("approle")}},
			CABundleSecretRef:   &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "bundle"}},
			ClientCertSecretRef: &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "mtls"}},
			ClientKeySecretRef:  &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "mtls"}},
		}}, []string{"approle", "bundle", "mtls"}},
		{"Venafi TPP", cmapi.IssuerConfig{Venafi: &cmapi.VenafiIssuer{TPP: &cmapi.VenafiTPP{CredentialsRef: cmmeta.LocalObjectReference{Name: "tpp-creds"}}}},
			[]string{"tpp-creds"}},
		{"ACME account, EAB and an rfc2136 solver", cmapi.IssuerConfig{ACME: &cmacme.ACMEIssuer{
			PrivateKey:             ref("account"),
			ExternalAccountBinding: &cmacme.ACMEExternalAccountBinding{Key: ref("eab")},
			Solvers:                []cmacme.ACMEChallengeSolver{{DNS01: &cmacme.ACMEChallengeSolverDNS01{RFC2136: &cmacme.ACMEIssuerDNS01ProviderRFC2136{TSIGSecret: ref("tsig")}}}},
		}}, []string{"account", "eab", "tsig"}},
		{"SelfSigned names none", cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}, nil},
	}
	for _, tt := range tests {
		if got := ReferencedSecrets(&cmapi.IssuerSpec{IssuerConfig: tt.cfg}); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ReferencedSecrets = %v, want %v", tt.name, got, tt.want)
		}
	}
}
