package vault

import (
	"errors"
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// The functions below turn what went wrong talking to Vault into the signer contract's errors.
// Every message names the issuer and, for logins, the auth method, so the person reading the event
// knows which object to fix. None of them quotes a request body: that is where tokens, secret IDs
// and JWTs travel.

// healthError reports a Vault that cannot serve (sealed, not initialised) as pending, and trouble
// reaching it as a plain error to retry.
func healthError(iss issuerName, server string, err error) error {
	var notReady notReadyError
	if errors.As(err, &notReady) {
		return signer.Pending(ReasonErrorVaultInit, "%s: the Vault server at %s %s", iss, server, string(notReady))
	}
	if ve, ok := asVaultError(err); ok {
		return fmt.Errorf("%s: checking the health of Vault at %s: %s", iss, server, ve.message)
	}
	return fmt.Errorf("%s: checking the health of Vault at %s: %w", iss, server, err)
}

// loginError reports a login Vault refused, or a credential that could not be obtained, as pending
// ErrorLogin: the CSR is signed as soon as the credential is fixed. Vault or network trouble is a
// plain error, retried with backoff.
func loginError(iss issuerName, method string, err error) error {
	if _, ok := signer.AsPending(err); ok {
		return err
	}
	var tre *tokenRequestError
	if errors.As(err, &tre) {
		return signer.Pending(ReasonErrorLogin, "%s: %s login to Vault: %s", iss, method, tre.msg)
	}
	ve, ok := asVaultError(err)
	switch {
	case !ok:
		return fmt.Errorf("%s: %s login to Vault: %w", iss, method, err)
	case isServerTrouble(ve):
		return fmt.Errorf("%s: %s login to Vault: HTTP %d: %s", iss, method, ve.status, ve.message)
	}
	return signer.Pending(ReasonErrorLogin, "%s: %s login to Vault failed: %s", iss, method, ve.message)
}

// signError reports Vault's refusal to sign (a name or TTL the role forbids, permission denied) as
// permanent ErrorSigning with Vault's own message, like cert-manager: the same CSR would be refused
// again. Vault or network trouble is a plain error, retried with backoff.
func signError(iss issuerName, spec *cmapi.VaultIssuer, err error) error {
	ve, ok := asVaultError(err)
	switch {
	case !ok:
		return fmt.Errorf("%s: signing at Vault path %s: %w", iss, spec.Path, err)
	case isServerTrouble(ve):
		return fmt.Errorf("%s: signing at Vault path %s: HTTP %d: %s", iss, spec.Path, ve.status, ve.message)
	}
	return signer.Permanent(ReasonErrorSigning, "%s: Vault refused to sign at %s: %s", iss, spec.Path, ve.message)
}

// invalidResponse reports a certificate Vault returned that must not be handed out for this CSR.
// Vault issued it, so asking again would only issue another: permanent.
func invalidResponse(iss issuerName, format string, args ...any) error {
	return signer.Permanent(ReasonErrorSigning, "%s: Vault's response cannot be used: %s", iss, fmt.Sprintf(format, args...))
}
