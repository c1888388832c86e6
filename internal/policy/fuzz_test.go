package policy

import (
	"net/url"
	"strings"
	"testing"
)

func FuzzMatch(f *testing.F) {
	f.Add("*.example.com", "a.example.com", "alice")
	f.Add("$(requester.username).example.com", "a*.example.com", "a*")
	f.Add("spiffe://td/ns/$(requester.serviceAccount.namespace)/sa/*", "spiffe://td/ns/team-a/sa/web", "system:serviceaccount:team-a:web")
	f.Add("*@Example.com", "x@example.COM", "bob")
	f.Fuzz(func(t *testing.T, pattern, value, username string) {
		m := matcher{id: identityOf(Requester{Username: username})}
		var got [3]bool
		for kind := range got {
			got[kind] = m.match(pattern, value, matchKind(kind))
		}

		if !strings.ContainsAny(pattern, "*$") {
			if want := equalFoldASCII(pattern, value); got[matchDNS] != want {
				t.Errorf("literal DNS pattern %q vs %q: got %v, want %v", pattern, value, got[matchDNS], want)
			}
			if got[matchExact] != (pattern == value) {
				t.Errorf("literal exact pattern %q vs %q: got %v", pattern, value, got[matchExact])
			}
		}

		// The username is substituted literally: it matches itself and nothing its '*' could
		// stand for.
		if !m.match(placeholderUsername, username, matchExact) {
			t.Errorf("username %q does not match itself", username)
		}
		if username != value && m.match(placeholderUsername, value, matchExact) {
			t.Errorf("username %q matched %q", username, value)
		}
		if strings.Contains(username, "*") {
			widened := strings.ReplaceAll(username, "*", "x")
			if m.match(placeholderUsername+".example.com", widened+".example.com", matchDNS) {
				t.Errorf("'*' in username %q acted as a wildcard for %q", username, widened)
			}
		}

		if len(pattern) <= 24 && len(value) <= 24 {
			compiled, ok := compilePattern(nil, pattern, &m.id)
			for kind := range got {
				want := ok && referenceMatch(compiled, value, foldFrom(value, matchKind(kind)), 0)
				if got[kind] != want {
					t.Errorf("match(%q, %q, kind %d) = %v, reference says %v", pattern, value, kind, got[kind], want)
				}
			}
		}
	})
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// referenceMatch is the obvious exponential matcher, trusted because it is short; offset is the
// index in the original value of value[0].
func referenceMatch(p []patternByte, value string, foldFrom, offset int) bool {
	if len(p) == 0 {
		return value == ""
	}
	if p[0] != star {
		return value != "" && sameByte(byte(p[0]), value[0], offset >= foldFrom) &&
			referenceMatch(p[1:], value[1:], foldFrom, offset+1)
	}
	for n := 1; n <= len(value) && !isSeparator(value[n-1]); n++ {
		if referenceMatch(p[1:], value[n:], foldFrom, offset+n) {
			return true
		}
	}
	return false
}

// FuzzNames holds the validators to what a pattern may assume of a well-formed value, whatever
// bytes a requester encodes.
func FuzzNames(f *testing.F) {
	for _, s := range []string{
		"web.example.com", "*.example.com", "a\x00.example.com", "xn--bcher-kva.example.com", "xn--zz.example",
		"alice@example.com", "Alice <alice@example.com>", `"a b"@example.com`,
		"spiffe://cluster.local/ns/a/sa/b", "HTTPS://x/", "https://[::1]:8443/a%20b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if dnsNameProblem(s, true) == "" {
			rest := strings.TrimPrefix(s, wildcardLabel)
			if len(s) > maxDNSNameLength || !isLDH(strings.ReplaceAll(rest, ".", "")) ||
				strings.Contains(rest, "..") || strings.HasPrefix(rest, ".") || strings.HasSuffix(rest, ".") {
				t.Errorf("DNS name %q passed validation", s)
			}
		}
		if emailProblem(s) == "" {
			if strings.Count(s, "@") != 1 || strings.ContainsAny(s, " \"()<>") || asciiProblem(s) != "" {
				t.Errorf("email address %q passed validation", s)
			}
		}
		if uriProblem(s) == "" {
			u, err := url.Parse(s)
			if err != nil || u.Scheme == "" || u.String() != s || strings.ContainsAny(s, " \t\n\x00") {
				t.Errorf("URI %q passed validation", s)
			}
		}
	})
}
