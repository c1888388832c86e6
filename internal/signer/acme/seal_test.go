package acme

import (
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

func testSealer(t *testing.T) sealer {
	t.Helper()
	keys, err := deriveAccountKeys(testpki.NewKey(t, testpki.ECDSA))
	if err != nil {
		t.Fatal(err)
	}
	return sealer{keys: keys, csrUID: "uid", signerName: "issuers.cert-manager.io/ns.le", server: "https://acme.example/directory"}
}

// The MAC key and thumbprint depend on the key alone: a restarted operator, or another replica,
// reading the same Secret derives the same, and another key derives others.
func TestAccountKeysAreStableAcrossReads(t *testing.T) {
	for _, typ := range []testpki.KeyAlgorithm{testpki.RSA, testpki.ECDSA} {
		keyPEM := testpki.KeyPEM(t, testpki.NewKey(t, typ))
		var derived []accountKeys
		for range 2 {
			key, err := pki.DecodePrivateKeyBytes(keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := deriveAccountKeys(key)
			if err != nil {
				t.Fatal(err)
			}
			derived = append(derived, keys)
		}
		if string(derived[0].mac) != string(derived[1].mac) || derived[0].thumbprint != derived[1].thumbprint {
			t.Errorf("%v: two reads of one key derive different keys", typ)
		}
		other, err := deriveAccountKeys(testpki.NewKey(t, typ))
		if err != nil {
			t.Fatal(err)
		}
		if string(other.mac) == string(derived[0].mac) || other.thumbprint == derived[0].thumbprint {
			t.Errorf("%v: two keys derive the same", typ)
		}
	}
}

func TestSealedAnnotationsOpenOnlyForTheirCSRAndIssuer(t *testing.T) {
	seal := testSealer(t)
	const url = "https://acme.example/order/1?a=<b>&c"
	recs := []challengeRecord{{Authz: "https://acme.example/authz/1?x&y", URL: "https://acme.example/chall/1", Type: "http-01",
		Identifier: "x.example.com", Token: "t", Solver: 1, PresentedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Accepted: true}}
	orderValue := seal.orderURL(url)
	challengesValue, err := seal.challenges(recs)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := seal.openOrderURL(orderValue); !ok || got != url {
		t.Errorf("order URL round trip: %q, %t", got, ok)
	}
	if got, ok := seal.openChallenges(challengesValue); !ok || len(got) != 1 || got[0] != recs[0] {
		t.Errorf("challenges round trip: %+v, %t", got, ok)
	}
	if seal.orderURL(url) != orderValue {
		t.Error("sealing is not deterministic: a stored order URL would be written again on every look")
	}
	if v, _ := seal.challenges(nil); v != "" {
		t.Errorf("no records seal as %q, want empty", v)
	}
	for name, value := range map[string]string{"order URL": "", "challenges": ""} {
		if _, ok := seal.openOrderURL(value); !ok {
			t.Errorf("an empty %s does not read as absent", name)
		}
		if _, ok := seal.openChallenges(value); !ok {
			t.Errorf("an empty %s does not read as absent", name)
		}
	}

	otherKey := testSealer(t)
	for name, other := range map[string]sealer{
		"another CSR":         with(seal, func(s *sealer) { s.csrUID = "uid-2" }),
		"another issuer":      with(seal, func(s *sealer) { s.signerName = "clusterissuers.cert-manager.io/le" }),
		"another server":      with(seal, func(s *sealer) { s.server = "https://acme-staging.example/directory" }),
		"another account key": with(seal, func(s *sealer) { s.keys = otherKey.keys }),
	} {
		if _, ok := other.openOrderURL(orderValue); ok {
			t.Errorf("an order URL sealed for one CSR and issuer opens for %s", name)
		}
		if _, ok := other.openChallenges(challengesValue); ok {
			t.Errorf("challenges sealed for one CSR and issuer open for %s", name)
		}
	}

	// What a requester can write: unsealed values as the signer wrote them before sealing, a
	// sealed value edited, MACs moved between annotations or left out, garbage.
	tampered := strings.Replace(orderValue, "acme.example", "evil.example", 1)
	for _, bad := range []string{"https://acme.example/order/1", tampered, `{"url":"https://acme.example/order/1"}`,
		`{"url":"https://acme.example/order/1","mac":"!!"}`, "{", `{"url":""}`} {
		if got, ok := seal.openOrderURL(bad); ok {
			t.Errorf("openOrderURL(%q) = %q, want refused", bad, got)
		}
	}
	withOrderMAC := `{"records":[],"mac":"` + orderValue[strings.Index(orderValue, `"mac":"`)+7:len(orderValue)-2] + `"}`
	for _, bad := range []string{`[{"type":"http-01","token":"t","keyAuthorization":"t.attacker"}]`,
		strings.Replace(challengesValue, "x.example.com", "victim.example", 1), `{"records":[]}`, withOrderMAC, "{", "[1,2]"} {
		if got, ok := seal.openChallenges(bad); ok {
			t.Errorf("openChallenges(%q) = %+v, want refused", bad, got)
		}
	}
	if got := unverifiedChallenges(challengesValue); len(got) != 1 || got[0].Token != "t" {
		t.Errorf("unverifiedChallenges: %+v", got)
	}
}

func with(s sealer, mutate func(*sealer)) sealer {
	mutate(&s)
	return s
}

func TestSameOrigin(t *testing.T) {
	const dir = "https://ACME.example/directory"
	for raw, want := range map[string]bool{
		"https://acme.example/order/1":          true,
		"https://acme.example:443/order/1":      true,
		"HTTPS://Acme.Example/authz/1":          true,
		"http://acme.example/order/1":           false,
		"https://acme.example:8443/order/1":     false,
		"https://evil.example/order/1":          false,
		"https://acme.example.evil/order/1":     false,
		"https://acme.example@evil.example/x":   false,
		"https://user@acme.example/x":           false,
		"/order/1":                              false,
		"":                                      false,
		"https://acme.example/order/%zz":        false,
		"https://[::1]/order/1":                 false,
		"https://acme.example/order/1#fragment": true,
	} {
		if got := sameOrigin(dir, raw); got != want {
			t.Errorf("sameOrigin(%q, %q) = %t, want %t", dir, raw, got, want)
		}
	}
	if !sameOrigin("https://127.0.0.1:14000/dir", "https://127.0.0.1:14000/order/1") || sameOrigin("https://127.0.0.1:14000/dir", "https://127.0.0.1:14001/order/1") {
		t.Error("ports are not compared")
	}
}

func TestRequested(t *testing.T) {
	req := &x509.CertificateRequest{DNSNames: []string{"Web.example.com", "*.apps.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("2001:db8::1")}}
	for _, tc := range []struct {
		typ, value string
		wildcard   bool
		want       bool
	}{
		{"dns", "web.example.com", false, true},
		{"dns", "apps.example.com", true, true},
		{"dns", "apps.example.com", false, false},
		{"dns", "example.com", true, false},
		{"dns", "victim.bank.example", false, false},
		{"ip", "10.0.0.1", false, true},
		{"ip", "2001:DB8:0::1", false, true},
		{"ip", "10.0.0.2", false, false},
		{"ip", "10.0.0.1", true, false},
		{"ip", "web.example.com", false, false},
		{"dns", "10.0.0.1", false, false},
		{"email", "web.example.com", false, false},
	} {
		if got := requested(req, tc.typ, tc.value, tc.wildcard); got != tc.want {
			t.Errorf("requested(%s %q, wildcard %t) = %t, want %t", tc.typ, tc.value, tc.wildcard, got, tc.want)
		}
	}
}
