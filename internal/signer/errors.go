package signer

import (
	"errors"
	"fmt"
	"time"
)

// Reasons shared by the signers. They end up as event and condition reasons, so they are
// stable CamelCase words; the names issuer-specific packages add follow the same rule.
const (
	// ReasonSecretMissing: a Secret the signer needs does not exist (yet). Pending.
	ReasonSecretMissing = "SecretMissing"
	// ReasonSecretInvalidData: a Secret exists but its contents are unusable. Pending,
	// because whoever owns the Secret can fix it and the CSR is signed as soon as they do.
	ReasonSecretInvalidData = "SecretInvalidData"
	// ReasonErrorGenerating: no certificate can be built from the CSR's request or usages.
	// Permanent. The name is cert-manager's, so existing alerts keep matching.
	ReasonErrorGenerating = "ErrorGenerating"
	// ReasonBasicConstraintsMismatch: the PKCS#10 request encodes a basic constraints
	// extension whose CA flag disagrees with the isCA the requester asked for (the
	// experimental.cert-manager.io/request-is-ca annotation). Permanent.
	ReasonBasicConstraintsMismatch = "BasicConstraintsMismatch"
	// ReasonKeyUsageMismatch: the PKCS#10 request encodes key usages or extended key usages
	// that disagree with spec.usages. Permanent.
	ReasonKeyUsageMismatch = "KeyUsageMismatch"
	// ReasonSigningError: the backend refused or failed to sign a well-formed request in a
	// way retrying will not change. Permanent.
	ReasonSigningError = "SigningError"
)

// PendingError reports that the certificate cannot be issued yet but may be later without a
// new CSR. The controller emits an event with Reason and Message and requeues; it never sets
// Failed for it.
type PendingError struct {
	Reason  string
	Message string
	// RequeueAfter is when to try again; zero leaves the choice to the controller.
	RequeueAfter time.Duration
	// cause holds the errors the message was formatted from with %w.
	cause error
}

func (e *PendingError) Error() string { return e.Reason + ": " + e.Message }

// Unwrap lets errors.Is and errors.As see the errors the message wrapped with %w.
func (e *PendingError) Unwrap() []error { return unwrapped(e.cause) }

// PermanentError reports that this CSR can never be signed; the requester has to create a new
// one. The controller sets the Failed condition with Reason and Message.
type PermanentError struct {
	Reason  string
	Message string
	// cause holds the errors the message was formatted from with %w.
	cause error
}

func (e *PermanentError) Error() string { return e.Reason + ": " + e.Message }

// Unwrap lets errors.Is and errors.As see the errors the message wrapped with %w.
func (e *PermanentError) Unwrap() []error { return unwrapped(e.cause) }

// Pending returns a *PendingError that leaves the requeue delay to the controller. Messages are
// shown to requesters in events: they must never contain secret material.
func Pending(reason, format string, args ...any) error {
	message, cause := formatMessage(format, args)
	return &PendingError{Reason: reason, Message: message, cause: cause}
}

// PendingAfter returns a *PendingError that asks to be retried after the given delay, for
// backends that know when to look again (a Venafi pickup, an ACME order).
func PendingAfter(after time.Duration, reason, format string, args ...any) error {
	message, cause := formatMessage(format, args)
	return &PendingError{Reason: reason, Message: message, RequeueAfter: after, cause: cause}
}

// Permanent returns a *PermanentError. Messages become the Failed condition's message, which
// every reader of the CSR sees: they must never contain secret material.
func Permanent(reason, format string, args ...any) error {
	message, cause := formatMessage(format, args)
	return &PermanentError{Reason: reason, Message: message, cause: cause}
}

// format2 formats a message as fmt.Errorf does, and keeps the result as the cause only when it
// wrapped an error with %w, so a plain message stays a plain value.
func formatMessage(format string, args []any) (string, error) {
	cause := fmt.Errorf(format, args...)
	if len(unwrapped(cause)) == 0 {
		return cause.Error(), nil
	}
	return cause.Error(), cause
}

// unwrapped returns what fmt.Errorf wrapped with %w, one error or several.
func unwrapped(cause error) []error {
	switch c := cause.(type) {
	case interface{ Unwrap() []error }:
		return c.Unwrap()
	case interface{ Unwrap() error }:
		if inner := c.Unwrap(); inner != nil {
			return []error{inner}
		}
	}
	return nil
}

// AsPending returns the *PendingError in err's chain, if any.
func AsPending(err error) (*PendingError, bool) {
	var pe *PendingError
	ok := errors.As(err, &pe)
	return pe, ok
}

// AsPermanent returns the *PermanentError in err's chain, if any.
func AsPermanent(err error) (*PermanentError, bool) {
	var pe *PermanentError
	ok := errors.As(err, &pe)
	return pe, ok
}
