package acme

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// problemOf returns the ACME problem document in err's chain, if any.
func problemOf(err error) (*acme.ProblemDetails, bool) {
	var p *acme.ProblemDetails
	ok := errors.As(err, &p)
	return p, ok
}

// describe renders a problem document the way a requester can act on: type, detail and the
// detail of each subproblem, without lego's request method and URL noise.
func describe(p *acme.ProblemDetails) string {
	var b strings.Builder
	b.WriteString(strings.TrimPrefix(p.Type, "urn:ietf:params:acme:error:"))
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(p.Detail))
	}
	for _, sub := range p.SubProblems {
		fmt.Fprintf(&b, "; %s: %s", sub.Identifier.Value, strings.TrimSpace(sub.Detail))
	}
	return b.String()
}

// classifyOrderError turns an error from creating or finalizing an order into what the
// controller should do: the server's refusal of this order is permanent, a rate limit is
// pending, anything else (network, 5xx) is retried as a plain error.
func classifyOrderError(err error, what string, backoff time.Duration) error {
	var rl *acme.RateLimitedError
	if errors.As(err, &rl) {
		after, perr := api.ParseRetryAfter(rl.RetryAfter)
		if perr != nil || after <= 0 {
			after = backoff
		}
		return signer.PendingAfter(after, ReasonRateLimited, "%s: the ACME server asks to retry later: %s", what, describe(rl.ProblemDetails))
	}
	p, ok := problemOf(err)
	if !ok || p.HTTPStatus >= http.StatusInternalServerError {
		return fmt.Errorf("%s: %w", what, err)
	}
	if isRefusal(p) {
		return signer.Permanent(ReasonOrderFailed, "%s: the ACME server refused: %s", what, describe(p))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isRefusal reports the ACME problem types (RFC 8555 section 6.7) that say an order can never
// succeed as asked.
func isRefusal(p *acme.ProblemDetails) bool {
	switch strings.TrimPrefix(p.Type, "urn:ietf:params:acme:error:") {
	case "rejectedIdentifier", "unsupportedIdentifier", "malformed", "caa", "badCSR",
		"badSignatureAlgorithm", "invalidProfile", "unauthorized", "dns",
		"connection", "incorrectResponse", "tls", "compound":
		return true
	}
	return false
}
