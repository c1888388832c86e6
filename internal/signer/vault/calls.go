package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// errEmptyResponse is returned when Vault answers a call with no body at all, which a working Vault
// never does for these endpoints.
var errEmptyResponse = errors.New("vault returned an empty response")

// The calls below set the token of c.client for one request. A connection belongs to one Sign call
// (and the login it may run on behalf of concurrent ones), never to two goroutines at once.

// health reports whether Vault can serve requests. It is asked before logging in so that a sealed or
// uninitialised Vault is reported as such instead of as a failed login.
func (c *connection) health(ctx context.Context) error {
	h, err := c.sys.Sys().HealthWithContext(ctx)
	if err != nil {
		return err
	}
	switch {
	case !h.Initialized:
		return notReadyError("is not initialized")
	case h.Sealed:
		return notReadyError("is sealed")
	}
	return nil
}

// notReadyError is a Vault that answers but cannot serve: only its operators can fix that.
type notReadyError string

func (e notReadyError) Error() string { return "vault " + string(e) }

// login writes credentials to an auth method's login path. No token is sent: a login must not be
// able to borrow an earlier identity.
func (c *connection) login(ctx context.Context, loginPath string, body map[string]any) (*vaultapi.Secret, error) {
	c.client.ClearToken()
	return nonEmpty(c.client.Logical().WriteWithContext(ctx, loginPath, body))
}

// lookupSelf asks Vault about token, which both proves it is valid and tells how long it lives.
func (c *connection) lookupSelf(ctx context.Context, token string) (*vaultapi.Secret, error) {
	c.client.SetToken(token)
	defer c.client.ClearToken()
	return nonEmpty(c.client.Auth().Token().LookupSelfWithContext(ctx))
}

// sign calls the PKI sign endpoint at signPath (spec.vault.path) with token.
func (c *connection) sign(ctx context.Context, token, signPath string, params map[string]any) (*vaultapi.Secret, error) {
	c.client.SetToken(token)
	defer c.client.ClearToken()
	return nonEmpty(c.client.Logical().WriteWithContext(ctx, logicalPath(signPath), params))
}

func nonEmpty(secret *vaultapi.Secret, err error) (*vaultapi.Secret, error) {
	if err != nil {
		return nil, err
	}
	if secret == nil {
		return nil, errEmptyResponse
	}
	return secret, nil
}

// logicalPath turns an issuer path into the form the Vault client's logical calls take (it adds
// /v1/ itself). cert-manager documents mount paths as "/v1/auth/kubernetes" and sign paths as
// "pki/sign/role"; both forms, and "auth/kubernetes", end up the same.
func logicalPath(p string) string {
	p = strings.TrimPrefix(p, "/")
	return strings.TrimPrefix(p, "v1/")
}

// vaultError is the part of a Vault error that may be shown on the CSR.
type vaultError struct {
	status  int
	message string
}

// asVaultError extracts Vault's own error messages from err. Like cert-manager, a body that is not
// Vault's error envelope is withheld: whatever answered at spec.vault.server chose it, and it would
// end up in events and conditions that every reader of the CSR sees.
func asVaultError(err error) (vaultError, bool) {
	var respErr *vaultapi.ResponseError
	if !errors.As(err, &respErr) {
		return vaultError{}, false
	}
	if respErr.RawError || len(respErr.Errors) == 0 {
		return vaultError{status: respErr.StatusCode, message: fmt.Sprintf(
			"HTTP %d response that is not a Vault error response (body withheld)", respErr.StatusCode)}, true
	}
	return vaultError{status: respErr.StatusCode, message: truncate(strings.Join(respErr.Errors, "; "))}, true
}

// isForbidden reports whether Vault refused the token (HTTP 403): revoked, expired or lacking the
// policy.
func isForbidden(err error) bool {
	ve, ok := asVaultError(err)
	return ok && ve.status == http.StatusForbidden
}

// isServerTrouble reports a Vault answer that says nothing about the request itself: rate limited,
// sealed, a standby without an active node, an overloaded proxy. Such calls are retried.
func isServerTrouble(ve vaultError) bool {
	return ve.status == http.StatusTooManyRequests || ve.status >= http.StatusInternalServerError
}

// maxMessage bounds how much of Vault's answer is copied into an event or condition.
const maxMessage = 1024

func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return s[:maxMessage] + "…"
}
