package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestAllowedAttributes(t *testing.T) {
	mustURL := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name     string
		allowed  v1alpha1.Allowed
		template x509.CertificateRequest
		want     []string
	}{
		{name: "empty CSR needs nothing"},
		{name: "common name", allowed: v1alpha1.Allowed{CommonName: []string{"web"}},
			template: x509.CertificateRequest{Subject: pkix.Name{CommonName: "web"}}},
		{name: "common name is case-sensitive", allowed: v1alpha1.Allowed{CommonName: []string{"web"}},
			template: x509.CertificateRequest{Subject: pkix.Name{CommonName: "Web"}},
			want:     []string{"spec.allowed.commonName FieldValueInvalid"}},
		{name: "common name omitted means none", template: x509.CertificateRequest{Subject: pkix.Name{CommonName: "web"}},
			want: []string{"spec.allowed.commonName FieldValueInvalid"}},
		{name: "DNS names", allowed: v1alpha1.Allowed{DNSNames: []string{"a.example.com", "*.b.example.com"}},
			template: x509.CertificateRequest{DNSNames: []string{"a.example.com", "x.b.example.com"}}},
		{name: "each refused DNS name reported", allowed: v1alpha1.Allowed{DNSNames: []string{"a.example.com"}},
			template: x509.CertificateRequest{DNSNames: []string{"evil.com", "a.example.com", "b.example.com"}},
			want:     []string{"spec.allowed.dnsNames FieldValueInvalid", "spec.allowed.dnsNames FieldValueInvalid"}},
		{name: "DNS names omitted means none", template: x509.CertificateRequest{DNSNames: []string{"a.example.com"}},
			want: []string{"spec.allowed.dnsNames FieldValueInvalid"}},
		{name: "URIs", allowed: v1alpha1.Allowed{URIs: []string{"spiffe://cluster.local/ns/*/sa/*"}},
			template: x509.CertificateRequest{URIs: []*url.URL{mustURL("spiffe://cluster.local/ns/team-a/sa/web")}}},
		{name: "URI wildcard does not span a path segment", allowed: v1alpha1.Allowed{URIs: []string{"spiffe://cluster.local/ns/*"}},
			template: x509.CertificateRequest{URIs: []*url.URL{mustURL("spiffe://cluster.local/ns/team-a/sa/web")}},
			want:     []string{"spec.allowed.uris FieldValueInvalid"}},
		{name: "URIs omitted means none", template: x509.CertificateRequest{URIs: []*url.URL{mustURL("spiffe://x/y")}},
			want: []string{"spec.allowed.uris FieldValueInvalid"}},
		{name: "email addresses", allowed: v1alpha1.Allowed{EmailAddresses: []string{"*@example.com"}},
			template: x509.CertificateRequest{EmailAddresses: []string{"alice@Example.COM"}}},
		{name: "email local part is case-sensitive", allowed: v1alpha1.Allowed{EmailAddresses: []string{"alice@example.com"}},
			template: x509.CertificateRequest{EmailAddresses: []string{"Alice@example.com"}},
			want:     []string{"spec.allowed.emailAddresses FieldValueInvalid"}},
		{name: "email wildcard does not span a domain label", allowed: v1alpha1.Allowed{EmailAddresses: []string{"*@example.com"}},
			template: x509.CertificateRequest{EmailAddresses: []string{"alice@mail.example.com"}},
			want:     []string{"spec.allowed.emailAddresses FieldValueInvalid"}},
		{name: "email addresses omitted means none", template: x509.CertificateRequest{EmailAddresses: []string{"a@example.com"}},
			want: []string{"spec.allowed.emailAddresses FieldValueInvalid"}},
		{name: "organizations", allowed: v1alpha1.Allowed{Organizations: []string{"Team A", "Team *"}},
			template: x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"Team A", "Team B"}}}},
		{name: "each organization checked", allowed: v1alpha1.Allowed{Organizations: []string{"Team A"}},
			template: x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"Team A", "Team B"}}},
			want:     []string{"spec.allowed.organizations FieldValueInvalid"}},
		{name: "organizations omitted means none", template: x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"Team A"}}},
			want: []string{"spec.allowed.organizations FieldValueInvalid"}},
		{name: "every attribute refused at once",
			template: x509.CertificateRequest{
				Subject:  pkix.Name{CommonName: "x", Organization: []string{"o"}},
				DNSNames: []string{"x"}, EmailAddresses: []string{"x@y"}, URIs: []*url.URL{mustURL("urn:x")},
				IPAddresses: []net.IP{net.ParseIP("10.0.0.1")},
			},
			want: []string{
				"spec.allowed.commonName FieldValueInvalid", "spec.allowed.dnsNames FieldValueInvalid",
				"spec.allowed.uris FieldValueInvalid", "spec.allowed.emailAddresses FieldValueInvalid",
				"spec.allowed.organizations FieldValueInvalid", "spec.allowed.ipAddresses FieldValueInvalid",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.Allowed = tt.allowed
			req := baseRequest(t, &tt.template)
			assertFields(t, violations(&p, req), tt.want...)
		})
	}
}

func TestAllowedIPAddresses(t *testing.T) {
	cidrs := []string{"10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32"}
	tests := []struct {
		name  string
		cidrs []string
		ip    string
		want  []string
	}{
		{name: "IPv4 inside", cidrs: cidrs, ip: "10.1.2.3"},
		{name: "IPv4 at the edge", cidrs: cidrs, ip: "192.168.1.255"},
		{name: "IPv4 outside", cidrs: cidrs, ip: "192.168.2.1", want: []string{"spec.allowed.ipAddresses FieldValueInvalid"}},
		{name: "IPv6 inside", cidrs: cidrs, ip: "2001:db8::1"},
		{name: "IPv6 outside", cidrs: cidrs, ip: "2001:db9::1", want: []string{"spec.allowed.ipAddresses FieldValueInvalid"}},
		{name: "IPv4-mapped IPv6 is read as IPv4", cidrs: cidrs, ip: "::ffff:10.0.0.1"},
		{name: "IPv4 does not match an IPv6 CIDR", cidrs: []string{"::/0"}, ip: "10.0.0.1",
			want: []string{"spec.allowed.ipAddresses FieldValueInvalid"}},
		{name: "unparseable CIDR is skipped, not trusted", cidrs: []string{"10.0.0.0", "not-a-cidr"}, ip: "10.0.0.0",
			want: []string{"spec.allowed.ipAddresses FieldValueInvalid"}},
		{name: "omitted means none", ip: "10.0.0.1", want: []string{"spec.allowed.ipAddresses FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.Allowed = v1alpha1.Allowed{IPAddresses: tt.cidrs}
			req := baseRequest(t, &x509.CertificateRequest{IPAddresses: []net.IP{net.ParseIP(tt.ip)}})
			assertFields(t, violations(&p, req), tt.want...)
		})
	}
}
