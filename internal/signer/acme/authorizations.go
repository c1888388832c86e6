package acme

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v4/acme"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// advance moves a pending order's authorizations on by one step each: a valid one has its
// challenge cleaned up, a failed one fails the order, a pending one gets its challenge presented
// or, on a later look, accepted (the server is told to validate). Challenge records are stored
// on the CSR before Sign reports pending: for HTTP-01 that record is the presentation itself.
func (r *orderRun) advance(ctx context.Context, order acme.Order, progressed bool) error {
	authzs := make([]acme.Authorization, 0, len(order.Authorizations))
	for _, url := range order.Authorizations {
		authz, err := r.acct.core.Authorizations.Get(url)
		if err != nil {
			return fmt.Errorf("reading authorization %s: %w", url, err)
		}
		if err := r.checkAuthorization(authz); err != nil {
			return r.fail(ctx, err)
		}
		authzs = append(authzs, authz)
	}
	for i, authz := range authzs {
		switch authz.Status {
		case acme.StatusValid:
			r.cleanUp(ctx, order.Authorizations[i])
		case acme.StatusPending:
		default:
			return r.fail(ctx, signer.Permanent(ReasonOrderFailed, "the authorization for %s is %s: %s",
				authz.Identifier.Value, authz.Status, challengeErrors(authz)))
		}
	}
	var presented []string
	wait := time.Duration(0)
	for i, authz := range authzs {
		if authz.Status != acme.StatusPending {
			continue
		}
		url := order.Authorizations[i]
		rec := r.st.challenge(url)
		if rec == nil {
			ok, err := r.present(ctx, url, authz)
			if err != nil {
				return r.storeThen(ctx, err)
			}
			if ok {
				presented = append(presented, displayIdentifier(authz))
			}
			continue
		}
		if rec.Accepted {
			continue
		}
		remaining, err := r.accept(ctx, rec)
		if err != nil {
			return r.storeThen(ctx, err)
		}
		if remaining > 0 && (wait == 0 || remaining < wait) {
			wait = remaining
		}
	}
	if err := r.store(ctx); err != nil {
		return err
	}
	if len(presented) > 0 {
		return signer.PendingAfter(r.s.poll.base, ReasonChallengePresented, "presented challenges for %s of order %s",
			strings.Join(presented, ", "), r.st.orderURL)
	}
	err := r.pending(progressed, ReasonOrderPending, "waiting for the ACME server to validate order %s", r.st.orderURL)
	if pe, ok := signer.AsPending(err); ok && wait > 0 && wait < pe.RequeueAfter {
		pe.RequeueAfter = wait
	}
	return err
}

// checkAuthorization refuses an authorization for an identifier the CSR does not request, or with
// a challenge URL off the issuer's server, before anything is presented for any authorization of
// the order: presenting it would prove control of a name nobody approved for this requester.
func (r *orderRun) checkAuthorization(authz acme.Authorization) error {
	if !requested(r.req.Parsed, authz.Identifier.Type, authz.Identifier.Value, authz.Wildcard) {
		return signer.Permanent(ReasonInvalidOrder, "the ACME order %s asks to validate %s identifier %q, which this CSR does not request (%s); nothing is presented for it",
			r.st.orderURL, authz.Identifier.Type, displayIdentifier(authz), strings.Join(r.names, ", "))
	}
	for _, ch := range authz.Challenges {
		if err := r.onServer("challenge URL", ch.URL); err != nil {
			return err
		}
	}
	return nil
}

// present chooses the solver for a pending authorization and presents its challenge. It
// returns false when a sequential solver is busy with another challenge of this order.
func (r *orderRun) present(ctx context.Context, authzURL string, authz acme.Authorization) (bool, error) {
	idx, ch, ok := pickSolver(ctx, r.spec.Solvers, authz, r.req.CSR.Labels)
	if !ok {
		return false, r.fail(ctx, signer.Permanent(ReasonNoMatchingSolver,
			"no solver of the issuer matches %s with a challenge type the ACME server offers (%s)",
			displayIdentifier(authz), strings.Join(challengeTypes(authz), ", ")))
	}
	sol, err := r.s.solverFor(ctx, r.req, r.spec.Solvers[idx])
	if err != nil {
		if _, permanent := signer.AsPermanent(err); permanent {
			return false, r.fail(ctx, err)
		}
		return false, err
	}
	if sol.sequential() && slices.ContainsFunc(r.st.challenges, func(c challengeRecord) bool { return c.Solver == idx && c.Sequential }) {
		return false, nil
	}
	rec := challengeRecord{
		Authz: authzURL, URL: ch.URL, Type: ch.Type, Identifier: authz.Identifier.Value, Wildcard: authz.Wildcard,
		Token: ch.Token, Solver: idx, PresentedAt: r.s.clock.Now().UTC(), Sequential: sol.sequential(),
	}
	if err := sol.present(ctx, rec, r.acct.keys.keyAuthorization(ch.Token)); err != nil {
		return false, r.pending(false, ReasonPresentFailed, "presenting the %s challenge for %s: %v", ch.Type, displayIdentifier(authz), err)
	}
	r.st.challenges = append(r.st.challenges, rec)
	r.changed = true
	return true, nil
}

// accept tells the server to validate a presented challenge once that can succeed: not in the
// look that presented it, not before the solver's waitInsteadOfSelfCheck has passed, and for
// HTTP-01 only once the CSR this reconcile was handed (from the informer cache the challenge
// server reads too) carries the record, so the server is not asked before the answer is
// servable. It returns how long is left to wait, if anything.
func (r *orderRun) accept(ctx context.Context, rec *challengeRecord) (time.Duration, error) {
	if rec.Solver < len(r.spec.Solvers) {
		if w := r.spec.Solvers[rec.Solver].WaitInsteadOfSelfCheck; w != nil {
			if left := rec.PresentedAt.Add(w.Duration).Sub(r.s.clock.Now()); left > 0 {
				return left, nil
			}
		}
	}
	if rec.Type == "http-01" && !slices.Contains(IndexHTTP01Tokens(r.req.CSR), rec.Token) {
		return 0, nil
	}
	if _, err := r.acct.core.Challenges.New(rec.URL); err != nil {
		p, ok := problemOf(err)
		if ok && p.HTTPStatus < http.StatusInternalServerError {
			return 0, r.pending(false, ReasonPresentFailed, "the ACME server refused to validate the %s challenge for %s: %s",
				rec.Type, rec.Identifier, describe(p))
		}
		return 0, fmt.Errorf("asking the ACME server to validate %s: %w", rec.Identifier, err)
	}
	rec.Accepted = true
	r.changed = true
	ctrl.LoggerFrom(ctx).V(1).Info("asked the ACME server to validate", "identifier", rec.Identifier, "type", rec.Type)
	return 0, nil
}

// cleanUp removes the presented challenge of one authorization, if any. A failure is logged and
// the record dropped all the same: the authorization is done, and a leftover TXT record or
// Ingress must not hold up the certificate.
func (r *orderRun) cleanUp(ctx context.Context, authzURL string) {
	rec := r.st.challenge(authzURL)
	if rec == nil {
		return
	}
	if err := r.cleanUpRecord(ctx, *rec); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "cleaning up a challenge", "identifier", rec.Identifier, "type", rec.Type)
	}
	r.st.remove(authzURL)
	r.changed = true
}

func (r *orderRun) cleanUpRecord(ctx context.Context, rec challengeRecord) error {
	// Records open only when the operator sealed them for this CSR, after checking their
	// identifier; checked again because a cleanup deletes DNS records and Ingresses by name.
	if !requested(r.req.Parsed, identifierType(rec.Identifier), rec.Identifier, rec.Wildcard) {
		return fmt.Errorf("the %s challenge record for %q is not for a name this CSR requests; leaving it alone", rec.Type, rec.Identifier)
	}
	if rec.Solver < 0 || rec.Solver >= len(r.spec.Solvers) {
		return fmt.Errorf("solver %d is no longer configured", rec.Solver)
	}
	sol, err := r.s.solverFor(ctx, r.req, r.spec.Solvers[rec.Solver])
	if err != nil {
		return err
	}
	return sol.cleanUp(ctx, rec, r.acct.keys.keyAuthorization(rec.Token))
}

// cleanUpAll cleans up every presented challenge and stores the empty list.
func (r *orderRun) cleanUpAll(ctx context.Context) error {
	for _, rec := range slices.Clone(r.st.challenges) {
		r.cleanUp(ctx, rec.Authz)
	}
	return r.store(ctx)
}

// store writes the challenge records to the CSR when they changed.
func (r *orderRun) store(ctx context.Context) error {
	if !r.changed {
		return nil
	}
	value, err := r.seal.challenges(r.st.challenges)
	if err != nil {
		return err
	}
	if err := r.req.Progress.Annotate(ctx, ChallengesAnnotation, value); err != nil {
		return fmt.Errorf("storing the presented challenges on the CSR: %w", err)
	}
	r.changed, r.moved = false, true
	return nil
}

// storeThen stores what changed before returning err, so that a challenge presented earlier in
// this look is not forgotten.
func (r *orderRun) storeThen(ctx context.Context, err error) error {
	if storeErr := r.store(ctx); storeErr != nil {
		return errors.Join(err, storeErr)
	}
	return err
}

func displayIdentifier(authz acme.Authorization) string {
	if authz.Wildcard {
		return "*." + authz.Identifier.Value
	}
	return authz.Identifier.Value
}

func challengeTypes(authz acme.Authorization) []string {
	types := make([]string, 0, len(authz.Challenges))
	for _, ch := range authz.Challenges {
		types = append(types, ch.Type)
	}
	return types
}

func challengeErrors(authz acme.Authorization) string {
	var details []string
	for _, ch := range authz.Challenges {
		if ch.Error != nil {
			details = append(details, ch.Type+": "+describe(ch.Error))
		}
	}
	if len(details) == 0 {
		return "the server gave no reason"
	}
	return strings.Join(details, "; ")
}
