package signer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

func TestPending(t *testing.T) {
	err := signer.Pending(signer.ReasonSecretMissing, "Secret %s/%s not found", "ns", "ca")
	pe, ok := signer.AsPending(err)
	if !ok {
		t.Fatalf("AsPending(%v) = false", err)
	}
	want := signer.PendingError{Reason: "SecretMissing", Message: "Secret ns/ca not found"}
	if *pe != want {
		t.Errorf("Pending = %+v, want %+v", *pe, want)
	}
	if got := err.Error(); got != "SecretMissing: Secret ns/ca not found" {
		t.Errorf("Error() = %q", got)
	}
	if _, ok := signer.AsPermanent(err); ok {
		t.Errorf("a pending error must not read as permanent")
	}
}

func TestPendingAfter(t *testing.T) {
	err := signer.PendingAfter(30*time.Second, "PickupPending", "waiting for %s", "pickup")
	pe, ok := signer.AsPending(err)
	if !ok || pe.RequeueAfter != 30*time.Second || pe.Reason != "PickupPending" || pe.Message != "waiting for pickup" {
		t.Errorf("PendingAfter = %+v, %t", pe, ok)
	}
}

func TestPermanent(t *testing.T) {
	err := signer.Permanent(signer.ReasonSigningError, "no %s", "luck")
	pe, ok := signer.AsPermanent(err)
	if !ok {
		t.Fatalf("AsPermanent(%v) = false", err)
	}
	if *pe != (signer.PermanentError{Reason: "SigningError", Message: "no luck"}) {
		t.Errorf("Permanent = %+v", *pe)
	}
	if got := err.Error(); got != "SigningError: no luck" {
		t.Errorf("Error() = %q", got)
	}
	if _, ok := signer.AsPending(err); ok {
		t.Errorf("a permanent error must not read as pending")
	}
}

// Controllers see signer errors after wrapping by helpers; the classification must survive it.
func TestTypedErrorsSurviveWrapping(t *testing.T) {
	wrapped := fmt.Errorf("signing: %w", signer.Permanent("R", "m"))
	if pe, ok := signer.AsPermanent(wrapped); !ok || pe.Reason != "R" {
		t.Errorf("AsPermanent(wrapped) = %+v, %t", pe, ok)
	}
	wrapped = fmt.Errorf("signing: %w", signer.Pending("R", "m"))
	if pe, ok := signer.AsPending(wrapped); !ok || pe.Reason != "R" {
		t.Errorf("AsPending(wrapped) = %+v, %t", pe, ok)
	}
}

func TestPlainErrorsAreNeither(t *testing.T) {
	for _, err := range []error{nil, errors.New("connection refused")} {
		if _, ok := signer.AsPending(err); ok {
			t.Errorf("AsPending(%v) = true", err)
		}
		if _, ok := signer.AsPermanent(err); ok {
			t.Errorf("AsPermanent(%v) = true", err)
		}
	}
}

// The typed errors keep their cause: a caller can still tell a context deadline or an upstream's
// own error type from the message it was formatted into.
func TestTypedErrorsUnwrapToTheirCause(t *testing.T) {
	cause := fmt.Errorf("dial: %w", context.DeadlineExceeded)
	for name, err := range map[string]error{
		"pending":       signer.Pending("R", "connecting: %w", cause),
		"pending after": signer.PendingAfter(time.Second, "R", "connecting: %w", cause),
		"permanent":     signer.Permanent("R", "connecting: %w", cause),
	} {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: errors.Is(%v, context.DeadlineExceeded) = false", name, err)
		}
		if got := err.Error(); got != "R: connecting: dial: context deadline exceeded" {
			t.Errorf("%s: Error() = %q", name, got)
		}
	}
	if pe, _ := signer.AsPermanent(signer.Permanent("R", "plain %s", "message")); len(pe.Unwrap()) != 0 {
		t.Errorf("a message that wrapped nothing unwraps to %v", pe.Unwrap())
	}
}
