package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestSystemIdentities(t *testing.T) {
	tests := []struct {
		name    string
		allowed v1alpha1.Allowed
		subject pkix.Name
		want    []string
	}{
		{name: "system:masters refused by wildcard", allowed: v1alpha1.Allowed{Organizations: []string{"*"}},
			subject: pkix.Name{Organization: []string{"system:masters"}},
			want:    []string{"spec.allowed.organizations FieldValueForbidden"}},
		{name: "system:masters allowed when listed exactly", allowed: v1alpha1.Allowed{Organizations: []string{"system:masters"}},
			subject: pkix.Name{Organization: []string{"system:masters"}}},
		{name: "system: group refused by wildcard", allowed: v1alpha1.Allowed{Organizations: []string{"system:*"}},
			subject: pkix.Name{Organization: []string{"system:nodes"}},
			want:    []string{"spec.allowed.organizations FieldValueForbidden"}},
		{name: "system: group refused when unlisted",
			subject: pkix.Name{Organization: []string{"system:nodes"}},
			want:    []string{"spec.allowed.organizations FieldValueForbidden"}},
		{name: "system: CN refused by wildcard", allowed: v1alpha1.Allowed{CommonName: []string{"system:node:*"}},
			subject: pkix.Name{CommonName: "system:node:worker-1"},
			want:    []string{"spec.allowed.commonName FieldValueForbidden"}},
		{name: "system: CN allowed when listed exactly", allowed: v1alpha1.Allowed{CommonName: []string{"system:node:worker-1"}},
			subject: pkix.Name{CommonName: "system:node:worker-1"}},
		{name: "system: CN refused through a placeholder", allowed: v1alpha1.Allowed{CommonName: []string{"$(requester.username)"}},
			subject: pkix.Name{CommonName: "system:serviceaccount:team-a:web"},
			want:    []string{"spec.allowed.commonName FieldValueForbidden"}},
		{name: "OU system:masters refused by wildcard", allowed: v1alpha1.Allowed{OrganizationalUnits: []string{"*"}},
			subject: pkix.Name{OrganizationalUnit: []string{"system:masters"}},
			want:    []string{"spec.allowed.organizationalUnits FieldValueForbidden"}},
		{name: "OU system:masters refused when unlisted",
			subject: pkix.Name{OrganizationalUnit: []string{"system:masters"}},
			want:    []string{"spec.allowed.organizationalUnits FieldValueForbidden"}},
		{name: "OU system:masters allowed when listed exactly", allowed: v1alpha1.Allowed{OrganizationalUnits: []string{"system:masters"}},
			subject: pkix.Name{OrganizationalUnit: []string{"system:masters"}}},
		{name: "ordinary names unaffected", allowed: v1alpha1.Allowed{CommonName: []string{"*"}, Organizations: []string{"*"}},
			subject: pkix.Name{CommonName: "systemd", Organization: []string{"systems"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.Requesters.ServiceAccounts = []v1alpha1.ServiceAccountReference{{Namespace: "team-a", Name: "web"}}
			p.Spec.Allowed = tt.allowed
			req := baseRequest(t, &x509.CertificateRequest{Subject: tt.subject})
			req.Requester.Username = "system:serviceaccount:team-a:web"
			assertFields(t, violations(&p, req), tt.want...)
		})
	}
}
