package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/url"
	"strings"
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

// Malformed names are refused before any pattern sees them, however broad the pattern, and the
// refusal names the policy field and shows the value escaped.
func TestMalformedNamesAreRefusedBeforeMatching(t *testing.T) {
	allowed := v1alpha1.Allowed{
		DNSNames:       []string{"*.a.example.com", "*.example.com"},
		EmailAddresses: []string{"*@example.com", "*@*.example.com"},
		URIs:           []string{"spiffe://cluster.local/*"},
	}
	tests := []struct {
		name   string
		san    asn1.RawValue
		field  string
		detail string
	}{
		{"DNS name with NUL", generalName(sanDNS, false, "a\x00.a.example.com"), "dnsNames",
			`Invalid value: "a\x00.a.example.com": label "a\x00" holds a character other than a letter, digit or hyphen`},
		{"DNS name with a space", generalName(sanDNS, false, "a b.a.example.com"), "dnsNames",
			`Invalid value: "a b.a.example.com": label "a b" holds a character other than a letter, digit or hyphen`},
		{"DNS name with a newline", generalName(sanDNS, false, "a\nb.a.example.com"), "dnsNames", `"a\nb.a.example.com": label "a\nb"`},
		{"DNS name with an underscore", generalName(sanDNS, false, "_acme.a.example.com"), "dnsNames", `label "_acme" holds a character`},
		{"DNS name with an empty label", generalName(sanDNS, false, "a..example.com"), "dnsNames", "has an empty label"},
		{"DNS name with a trailing dot", generalName(sanDNS, false, "b.a.example.com."), "dnsNames", "ends with a dot"},
		{"DNS label of 64 bytes", generalName(sanDNS, false, strings.Repeat("x", 64)+".example.com"), "dnsNames", "a DNS label holds at most 63"},
		{"DNS name of 254 bytes", generalName(sanDNS, false, strings.Repeat("x", 242)+".example.com"), "dnsNames", "is 254 bytes long"},
		{"DNS name with xn-- garbage", generalName(sanDNS, false, "xn--zz.a.example.com"), "dnsNames", `label "xn--zz" starts with xn--`},
		{"wildcard in the middle", generalName(sanDNS, false, "b.*.example.com"), "dnsNames", `label "*" holds a wildcard`},
		{"wildcard inside a label", generalName(sanDNS, false, "b*.a.example.com"), "dnsNames", `label "b*" holds a wildcard`},
		{"email with a display name", generalName(sanEmail, false, "Eve <eve@example.com>"), "emailAddresses", "is not a bare address"},
		{"email with a quoted local part", generalName(sanEmail, false, `"eve x"@example.com`), "emailAddresses", "is not a bare address"},
		{"email with a NUL", generalName(sanEmail, false, "eve\x00@example.com"), "emailAddresses", `"eve\x00@example.com": holds a control character`},
		{"email with a wildcard domain", generalName(sanEmail, false, "eve@*.example.com"), "emailAddresses", `its domain "*.example.com" is not a valid DNS name`},
		{"URI with a space", generalName(sanURI, false, "spiffe://cluster.local/a b"), "uris", "holds a space"},
		{"URI without a scheme", generalName(sanURI, false, "//cluster.local/a"), "uris", "has no scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.Allowed = allowed
			req := baseRequest(t, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{sanExtension(t, tt.san)}})
			errs := violations(&p, req)
			assertFields(t, errs, "spec.allowed."+tt.field+" FieldValueInvalid")
			if msg := errs.ToAggregate().Error(); !strings.Contains(msg, tt.detail) {
				t.Errorf("message %q\ndoes not contain %q", msg, tt.detail)
			}
		})
	}
}

// A wildcard name asks for every name one label deeper, which only a pattern with a wildcard as
// its own leftmost label grants: never a pattern whose '*' is part of a label or comes from a
// placeholder.
func TestWildcardDNSNames(t *testing.T) {
	refused := []string{"spec.allowed.dnsNames FieldValueInvalid"}
	tests := []struct {
		name     string
		username string
		patterns []string
		dnsName  string
		want     []string
	}{
		{name: "wildcard pattern", patterns: []string{"*.a.example.com"}, dnsName: "*.a.example.com"},
		{name: "wildcard pattern ignores case", patterns: []string{"*.A.example.com"}, dnsName: "*.a.EXAMPLE.com"},
		{name: "two-level wildcard pattern", patterns: []string{"*.*.example.com"}, dnsName: "*.a.example.com"},
		{name: "placeholder after the wildcard", username: "alice", patterns: []string{"*.$(requester.username).example.com"}, dnsName: "*.alice.example.com"},
		{name: "one level too high", patterns: []string{"*.example.com"}, dnsName: "*.a.example.com", want: refused},
		{name: "one level too deep", patterns: []string{"*.*.example.com"}, dnsName: "*.example.com", want: refused},
		{name: "named hosts only", patterns: []string{"web.example.com"}, dnsName: "*.example.com", want: refused},
		{name: "wildcard inside the pattern's label", patterns: []string{"w*.example.com"}, dnsName: "*.example.com", want: refused},
		{name: "placeholder that resolves to *", username: "*", patterns: []string{"$(requester.username).example.com"}, dnsName: "*.example.com", want: refused},
		{name: "a name is still matched by a wildcard pattern", patterns: []string{"*.example.com"}, dnsName: "web.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.Allowed = v1alpha1.Allowed{DNSNames: tt.patterns}
			req := baseRequest(t, &x509.CertificateRequest{DNSNames: []string{tt.dnsName}})
			if tt.username != "" {
				p.Spec.Requesters.Users = []string{tt.username}
				req.Requester.Username = tt.username
			}
			errs := violations(&p, req)
			assertFields(t, errs, tt.want...)
			if len(errs) > 0 && !strings.Contains(errs[0].Detail, "whose own leftmost label is *") {
				t.Errorf("refusal %q does not say which patterns allow a wildcard name", errs[0].Detail)
			}
		})
	}
}
