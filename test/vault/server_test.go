package vault

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

func TestRoleNameRules(t *testing.T) {
	role := Role{AllowedDomains: []string{"example.com"}, AllowSubdomains: true}
	bare := Role{AllowedDomains: []string{"example.com"}, AllowBareDomains: true}
	cases := []struct {
		role Role
		name string
		want bool
	}{
		{role, "web.example.com", true},
		{role, "a.b.example.com", true},
		{role, "*.example.com", true},
		{role, "a.*.example.com", false},
		{role, "example.com", false},
		{role, "web.example.org", false},
		{role, "evilexample.com", false},
		{role, "ops@mail.example.com", true},
		{bare, "example.com", true},
		{bare, "web.example.com", false},
		{Role{AllowAnyName: true}, "anything", true},
	}
	for _, tc := range cases {
		if got := tc.role.allowsName(tc.name); got != tc.want {
			t.Errorf("%+v allows %q: %t, want %t", tc.role, tc.name, got, tc.want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"spiffe://cluster.local/*", "spiffe://cluster.local/ns/a/sa/b", true},
		{"spiffe://cluster.local/*", "spiffe://other/ns/a", false},
		{"spiffe://*/ns/a/*", "spiffe://cluster.local/ns/a/sa/b", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %t, want %t", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestTTLIsCappedAtMaxTTLWithAWarning(t *testing.T) {
	role := Role{MaxTTL: time.Hour}
	for _, tc := range []struct {
		requested any
		want      time.Duration
		warned    bool
	}{
		{"30m0s", 30 * time.Minute, false},
		{"7200", time.Hour, true},
		{float64(60), time.Minute, false},
		{nil, time.Hour, false},
	} {
		got, warnings, err := role.ttl(tc.requested)
		if err != nil || got != tc.want || (len(warnings) > 0) != tc.warned {
			t.Errorf("ttl(%v) = %s, %v, %v; want %s, warned %t", tc.requested, got, warnings, err, tc.want, tc.warned)
		}
	}
}

// apiClient returns a Vault API client for s trusting its serving CA.
func apiClient(t *testing.T, s *Server) *vaultapi.Client {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address, cfg.MaxRetries = s.URL, 0
	if err := cfg.ConfigureTLS(&vaultapi.TLSConfig{CACertBytes: s.ServingCAPEM}); err != nil {
		t.Fatal(err)
	}
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	return c
}

func TestNamespacesSealingAndPolicies(t *testing.T) {
	s, err := Start(Config{Namespace: "team"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	c := apiClient(t, s)
	roleID, secretID := s.AppRole("approle", "r", Policy{"pki/sign/web"})
	login := map[string]any{"role_id": roleID, "secret_id": secretID}

	if _, err := c.Logical().WriteWithContext(ctx, "auth/approle/login", login); status(err) != http.StatusNotFound {
		t.Errorf("login outside the namespace: %v, want 404", err)
	}
	nc := c.WithNamespace("team")
	secret, err := nc.Logical().WriteWithContext(ctx, "auth/approle/login", login)
	if err != nil || secret.Auth == nil || secret.Auth.LeaseDuration != 3600 {
		t.Fatalf("login: %+v, %v", secret, err)
	}
	nc.SetToken(secret.Auth.ClientToken)
	if _, err := nc.Logical().WriteWithContext(ctx, "pki/sign/other", map[string]any{}); status(err) != http.StatusForbidden {
		t.Errorf("sign outside the policy: %v, want 403", err)
	}
	if _, err := nc.Logical().WriteWithContext(ctx, "pki/sign/web", map[string]any{}); status(err) != http.StatusBadRequest ||
		!strings.Contains(err.Error(), "unknown role: web") {
		t.Errorf("sign with an unknown role: %v, want 400 unknown role", err)
	}

	s.Seal(true)
	if h, err := c.Sys().HealthWithContext(ctx); err != nil || !h.Sealed {
		t.Errorf("health of a sealed server: %+v, %v", h, err)
	}
	if _, err := nc.Logical().WriteWithContext(ctx, "auth/approle/login", login); status(err) != http.StatusServiceUnavailable {
		t.Errorf("login to a sealed server: %v, want 503", err)
	}
	if got := s.LoginsAt("approle"); got != 1 {
		t.Errorf("%d logins at approle, want 1: neither the one outside the namespace nor the sealed one reached it", got)
	}
}

func status(err error) int {
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}
