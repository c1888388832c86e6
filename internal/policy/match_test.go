package policy

import "testing"

func TestMatchWildcards(t *testing.T) {
	tests := []struct {
		pattern, value string
		kind           matchKind
		want           bool
	}{
		{"*.example.com", "a.example.com", matchDNS, true},
		{"*.example.com", "*.example.com", matchDNS, true}, // the literal wildcard name
		{"*.example.com", "a.b.example.com", matchDNS, false},
		{"*.example.com", ".example.com", matchDNS, false},
		{"*.example.com", "example.com", matchDNS, false},
		{"*.example.com", "A.EXAMPLE.COM", matchDNS, true},
		{"*.EXAMPLE.com", "a.example.COM", matchDNS, true},
		{"web-*.example.com", "web-1.example.com", matchDNS, true},
		{"web-*.example.com", "web-.example.com", matchDNS, false},
		{"*.*.example.com", "a.b.example.com", matchDNS, true},
		{"*.*.example.com", "a.example.com", matchDNS, false},
		{"a*b*c", "aXbYbZc", matchExact, true},
		{"a*b*c", "abc", matchExact, false},
		{"*", "", matchExact, false},
		{"*", "anything-without-separators", matchExact, true},
		{"*", "a/b", matchExact, false},
		{"*", "a@b", matchExact, false},
		{"Team A", "team a", matchExact, false},
		{"", "", matchExact, true},
		{"*@example.com", "alice@EXAMPLE.com", matchEmail, true},
		{"*@example.com", "@example.com", matchEmail, false},
		{"alice@example.com", "ALICE@example.com", matchEmail, false},
		{"spiffe://td/ns/*/sa/web", "spiffe://td/ns/a/sa/web", matchExact, true},
		{"spiffe://td/ns/*/sa/web", "spiffe://td/ns/a/b/sa/web", matchExact, false},
	}
	for _, tt := range tests {
		m := matcher{id: identityOf(Requester{Username: "alice"})}
		if got := m.match(tt.pattern, tt.value, tt.kind); got != tt.want {
			t.Errorf("match(%q, %q, %v) = %v, want %v", tt.pattern, tt.value, tt.kind, got, tt.want)
		}
	}
}

func TestMatchPlaceholders(t *testing.T) {
	const sa = "system:serviceaccount:team-a:web"
	tests := []struct {
		name, username, pattern, value string
		kind                           matchKind
		want                           bool
	}{
		{"SA name", sa, "$(requester.serviceAccount.name).svc", "web.svc", matchDNS, true},
		{"SA namespace", sa, "*.$(requester.serviceAccount.namespace).svc.cluster.local", "web.team-a.svc.cluster.local", matchDNS, true},
		{"SA of another namespace", sa, "*.$(requester.serviceAccount.namespace).svc", "web.team-b.svc", matchDNS, false},
		{"SA both in a URI", sa, "spiffe://td/ns/$(requester.serviceAccount.namespace)/sa/$(requester.serviceAccount.name)",
			"spiffe://td/ns/team-a/sa/web", matchExact, true},
		{"username", sa, "$(requester.username)", sa, matchExact, true},
		{"SA placeholders match nothing for a user", "alice", "$(requester.serviceAccount.name)", "", matchExact, false},
		{"SA placeholders match nothing for a user, even with wildcards", "alice", "*.$(requester.serviceAccount.namespace)", "a.", matchDNS, false},
		{"username of a user", "alice", "$(requester.username)@example.com", "alice@example.com", matchEmail, true},
		{"username with * stays literal", "a*", "$(requester.username).example.com", "abc.example.com", matchDNS, false},
		{"username with * matches itself", "a*", "$(requester.username).example.com", "a*.example.com", matchDNS, true},
		{"username with separators stays literal", "a.b", "$(requester.username)", "a.b", matchExact, true},
		{"unknown placeholder fails closed", "alice", "$(requester.uid)", "$(requester.uid)", matchExact, false},
		{"stray $ fails closed", "alice", "a$b", "a$b", matchExact, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := matcher{id: identityOf(Requester{Username: tt.username})}
			if got := m.match(tt.pattern, tt.value, tt.kind); got != tt.want {
				t.Errorf("match(%q, %q) for %q = %v, want %v", tt.pattern, tt.value, tt.username, got, tt.want)
			}
		})
	}
}

func TestMatchWildcardNames(t *testing.T) {
	tests := []struct {
		username, pattern, value string
		want                     bool
	}{
		{"alice", "*.example.com", "*.example.com", true},
		{"alice", "*.EXAMPLE.com", "*.example.COM", true},
		{"alice", "*.*.example.com", "*.a.example.com", true},
		{"alice", "*.$(requester.username).example.com", "*.alice.example.com", true},
		{"alice", "*.example.com", "*.a.example.com", false},
		{"alice", "*.a.example.com", "*.example.com", false},
		{"alice", "a*.example.com", "*.example.com", false},
		{"*", "$(requester.username).example.com", "*.example.com", false},
		{"*.example.com", "$(requester.username)", "*.example.com", false},
	}
	for _, tt := range tests {
		m := matcher{id: identityOf(Requester{Username: tt.username})}
		if got := m.matchWildcardAny([]string{tt.pattern}, tt.value); got != tt.want {
			t.Errorf("matchWildcardAny(%q, %q) for %q = %v, want %v", tt.pattern, tt.value, tt.username, got, tt.want)
		}
	}
}
