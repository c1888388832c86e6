package acme

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"slices"
	"testing"

	"github.com/go-acme/lego/v4/acme"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

func TestOrderIdentifiers(t *testing.T) {
	uri, _ := url.Parse("spiffe://cluster.local/ns/a/sa/b")
	tests := map[string]struct {
		req        x509.CertificateRequest
		isCA       bool
		want       []string
		wantReason string
	}{
		"DNS names and IPs, DNS first": {
			req:  x509.CertificateRequest{DNSNames: []string{"a.example.com", "*.example.com"}, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1), net.ParseIP("2001:db8::1")}},
			want: []string{"a.example.com", "*.example.com", "10.0.0.1", "2001:db8::1"},
		},
		"CN among the DNS names": {
			req:  x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.example.com"}, DNSNames: []string{"a.example.com"}},
			want: []string{"a.example.com"},
		},
		"CN among the IPs": {
			req:  x509.CertificateRequest{Subject: pkix.Name{CommonName: "10.0.0.1"}, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}},
			want: []string{"10.0.0.1"},
		},
		"CN outside the SANs": {
			req:        x509.CertificateRequest{Subject: pkix.Name{CommonName: "b.example.com"}, DNSNames: []string{"a.example.com"}},
			wantReason: ReasonInvalidOrder,
		},
		"CN compared case-sensitively, as cert-manager does": {
			req:        x509.CertificateRequest{Subject: pkix.Name{CommonName: "A.example.com"}, DNSNames: []string{"a.example.com"}},
			wantReason: ReasonInvalidOrder,
		},
		"CN only": {
			req:        x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.example.com"}},
			wantReason: ReasonInvalidOrder,
		},
		"email SAN":   {req: x509.CertificateRequest{DNSNames: []string{"a.example.com"}, EmailAddresses: []string{"a@example.com"}}, wantReason: ReasonInvalidOrder},
		"URI SAN":     {req: x509.CertificateRequest{DNSNames: []string{"a.example.com"}, URIs: []*url.URL{uri}}, wantReason: ReasonInvalidOrder},
		"nothing":     {req: x509.CertificateRequest{}, wantReason: ReasonInvalidOrder},
		"CA requests": {req: x509.CertificateRequest{DNSNames: []string{"a.example.com"}}, isCA: true, wantReason: ReasonInvalidOrder},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := orderIdentifiers(&tc.req, tc.isCA)
			if tc.wantReason != "" {
				pe, ok := signer.AsPermanent(err)
				if !ok || pe.Reason != tc.wantReason {
					t.Fatalf("got %v, %v; want permanent %s", got, err, tc.wantReason)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestSameIdentifiers(t *testing.T) {
	ids := []acme.Identifier{{Type: "dns", Value: "B.example.com"}, {Type: "ip", Value: "10.0.0.1"}}
	if !sameIdentifiers([]string{"10.0.0.1", "b.example.com", "b.example.com"}, ids) {
		t.Error("same identifiers in another order, case and with a duplicate should match")
	}
	if sameIdentifiers([]string{"b.example.com"}, ids) || sameIdentifiers([]string{"b.example.com", "10.0.0.1", "c.example.com"}, ids) {
		t.Error("different identifier sets should not match")
	}
}
