// Package policy decides whether SignerPolicies allow a CertificateSigningRequest.
//
// It is pure: callers hand it the policies and the facts of one request and get a Decision back.
// A refusal is a Decision carrying field errors whose paths point at the policy field that
// refused, never a Go error, so the approval controller can show a requester what to change.
package policy
