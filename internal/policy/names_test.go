package policy

import (
	"strings"
	"testing"
)

// Each case names what makes the value malformed, as a fragment of the detail; "" means it is
// well formed.
type nameCase struct {
	value, want string
}

func runNameCases(t *testing.T, problem func(string) string, cases []nameCase) {
	t.Helper()
	for _, tc := range cases {
		got := problem(tc.value)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.value, got, tc.want)
		}
	}
}

func TestDNSNames(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	name253 := strings.Repeat(label63+".", 3) + strings.Repeat("b", 61)
	runNameCases(t, func(s string) string { return dnsNameProblem(s, true) }, []nameCase{
		{"web.example.com", ""},
		{"WEB.Example.COM", ""},
		{"a-b.example.com", ""},
		{"1.example.com", ""},
		{"localhost", ""},
		{label63 + ".example.com", ""},
		{name253, ""},
		{"*.example.com", ""},
		{"xn--bcher-kva.example.com", ""},
		{"XN--BCHER-KVA.example.com", ""},
		{"xn--mgbh0fb.example", ""},

		{"", "is empty"},
		{"a\x00.a.example.com", `label "a\x00" holds a character other than a letter, digit or hyphen`},
		{"a b.a.example.com", `label "a b" holds a character other than a letter, digit or hyphen`},
		{"a\nb.example.com", `label "a\nb" holds a character`},
		{"_acme.example.com", `label "_acme" holds a character`},
		{"a/b.example.com", `label "a/b" holds a character`},
		{"a@b.example.com", `label "a@b" holds a character`},
		{"a..example.com", "has an empty label"},
		{".example.com", "has an empty label"},
		{"example.com.", "ends with a dot"},
		{strings.Repeat("a", 64) + ".example.com", "is 64 bytes long; a DNS label holds at most 63"},
		{name253 + "b", "is 254 bytes long; a DNS name holds at most 253"},
		{"-web.example.com", `label "-web" starts or ends with a hyphen`},
		{"web-.example.com", `label "web-" starts or ends with a hyphen`},
		{"bücher.example.com", "outside ASCII"},
		{"xn--zz.example.com", `label "xn--zz" starts with xn-- but is not the A-label`},
		{"xn--a-ecp.example.com", `label "xn--a-ecp" starts with xn--`}, // decodes to a disallowed rune
		{"xn--a.example.com", `starts with xn--`},                       // decodes to the control U+0080
		{"xn--bcher-kva8.example.com", `starts with xn--`},              // not punycode
		{"xn--.example.com", `label "xn--" starts or ends with a hyphen`},
		{"xn--abc-.example.com", `label "xn--abc-" starts or ends with a hyphen`}, // would decode to plain "abc"
		{"*", "is a bare wildcard"},
		{"*.", "ends with a dot"},
		{"a*.example.com", `label "a*" holds a wildcard, which is allowed only as the whole leftmost label`},
		{"*a.example.com", `label "*a" holds a wildcard`},
		{"a.*.example.com", `label "*" holds a wildcard`},
		{"*.*.example.com", `label "*" holds a wildcard`},
	})
}

func TestDNSNamesWithoutWildcards(t *testing.T) {
	runNameCases(t, func(s string) string { return dnsNameProblem(s, false) }, []nameCase{
		{"example.com", ""},
		{"*.example.com", `label "*" holds a wildcard`},
	})
}

func TestEmailAddresses(t *testing.T) {
	runNameCases(t, emailProblem, []nameCase{
		{"alice@example.com", ""},
		{"a.b+tag@Example.COM", ""},
		{"alice@localhost", ""},
		{"alice@xn--bcher-kva.example", ""},

		{"", "is not a bare address"},
		{"alice", "is not a bare address"},
		{"@example.com", "is not a bare address"},
		{"alice@", "is not a bare address"},
		{"Alice <alice@example.com>", "is not a bare address"},
		{"<alice@example.com>", "is not a bare address"},
		{"alice(comment)@example.com", "is not a bare address"},
		{`"alice"@example.com`, "is not a bare address"},
		{`"a b"@example.com`, "is not a bare address"},
		{" alice@example.com", "is not a bare address"},
		{"a..b@example.com", "is not a bare address"},
		{"a@b@example.com", "is not a bare address"},
		{"alice\x00@example.com", "holds a control character"},
		{"alice@example.com\n", "holds a control character"},
		{"älice@example.com", "outside ASCII"},
		{"alice@*.example.com", `its domain "*.example.com" is not a valid DNS name: label "*" holds a wildcard`},
		{"alice@a_b.example.com", `its domain "a_b.example.com" is not a valid DNS name: label "a_b" holds a character`},
		{"alice@example.com.", "is not a bare address"},
		{"alice@-x.com", "starts or ends with a hyphen"},
		{"alice@[10.0.0.1]", `label "[10" holds a character`},
		{"alice@xn--zz.example", "starts with xn--"},
	})
}

func TestURIs(t *testing.T) {
	runNameCases(t, uriProblem, []nameCase{
		{"spiffe://cluster.local/ns/team-a/sa/web", ""},
		{"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", ""},
		{"https://web.example.com:8443/path?q=1#f", ""},
		{"https://[2001:db8::1]/", ""},
		{"https://10.0.0.1/", ""},
		{"https://user@web.example.com/", ""},
		{"https://web.example.com/a%20b", ""},

		{"", "has no scheme"},
		{"//web.example.com/x", "has no scheme"},
		{"web.example.com", "has no scheme"},
		{"spiffe://cluster.local/a b", "holds a space"},
		{"spiffe://cluster.local/a\tb", "holds a control character"},
		{"spiffe://cluster.local/a\x00", "holds a control character"},
		{"spiffe://cluster.local/\x7f", "holds a control character"},
		{"spiffe://clüster.local/x", "outside ASCII"},
		{"https://web.example.com/%zz", "cannot be parsed as a URI"},
		{"HTTPS://web.example.com/", `does not read back unchanged as a URI; it would be issued as "https://web.example.com/"`},
		{"https://web_1.example.com/", `its host "web_1.example.com" is neither an IP address nor a valid DNS name: label "web_1" holds a character`},
		{"https://*.example.com/", `its host "*.example.com" is neither`},
		{"https://:8443/", `its host "" is neither an IP address nor a valid DNS name: is empty`},
	})
}

func TestSubjectValues(t *testing.T) {
	runNameCases(t, subjectValueProblem, []nameCase{
		{"Team A", ""},
		{"Zürich", ""},
		{"web.team-a.example.com", ""},
		{"", ""},

		{"Team\x00A", "holds a control character"},
		{"Team A\n", "holds a control character"},
		{"Team\x7fA", "holds a control character"},
		{"Team\u0085A", "holds a control character"},
		{"Team \xff", "is not valid UTF-8"},
	})
}

func TestWildcardFlag(t *testing.T) {
	for name, want := range map[string]bool{
		"*.example.com":   true,
		"a.example.com":   false,
		"*.a_b.com":       false, // malformed names are never wildcards
		"a.*.example.com": false,
	} {
		if got := dnsNameValue(name).wildcard; got != want {
			t.Errorf("dnsNameValue(%q).wildcard = %v, want %v", name, got, want)
		}
	}
}
