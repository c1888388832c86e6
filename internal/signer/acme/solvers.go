package acme

import (
	"context"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/cert-manager/cert-manager/pkg/util/solverpicker"
	"github.com/go-acme/lego/v4/acme"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// solver presents and cleans up one kind of challenge for one solver configuration.
type solver interface {
	// present and cleanUp are given the key authorization, computed from the account key.
	present(ctx context.Context, rec challengeRecord, keyAuth string) error
	cleanUp(ctx context.Context, rec challengeRecord, keyAuth string) error
	// sequential reports that two challenges of this solver must not be presented at once
	// (lego's RFC 2136 provider replaces the whole TXT RRset, so a wildcard and its apex,
	// which share _acme-challenge.<apex>, would overwrite each other).
	sequential() bool
}

// pickSolver chooses the issuer's solver for an authorization with cert-manager's own selection
// code, called as a library so that selectors mean exactly what they mean to cert-manager: a
// dnsNames match beats a dnsZones match, the longest matching zone wins, then the most
// matchLabels, and among equals the first listed. Labels are the CSR's, standing in for the
// cert-manager Order's labels, which cert-manager copies from the request.
//
// It returns the solver's index in solvers and the challenge of the matching type.
func pickSolver(ctx context.Context, solvers []cmacme.ACMEChallengeSolver, authz acme.Authorization, labels map[string]string) (int, *acme.Challenge, bool) {
	domain := authz.Identifier.Value
	if authz.Wildcard {
		domain = "*." + domain
	}
	offered := make([]cmacme.ACMEChallenge, 0, len(authz.Challenges))
	for _, ch := range authz.Challenges {
		offered = append(offered, cmacme.ACMEChallenge{URL: ch.URL, Token: ch.Token, Type: ch.Type})
	}
	order := &cmacme.Order{ObjectMeta: metav1.ObjectMeta{Labels: labels}}
	picked, ch := solverpicker.Pick(ctx, domain, offered, solvers, order)
	if picked == nil || ch == nil {
		return 0, nil, false
	}
	// Pick returns a copy; find which configured solver it is, so cleanup can use the same.
	idx := -1
	for i := range solvers {
		// Identical configurations are interchangeable, so the first equal one will do.
		if equality.Semantic.DeepEqual(solvers[i], *picked) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return 0, nil, false
	}
	for i := range authz.Challenges {
		if authz.Challenges[i].URL == ch.URL {
			return idx, &authz.Challenges[i], true
		}
	}
	return 0, nil, false
}

// solverFor builds the solver for one of the issuer's solver configurations.
// Configurations this operator does not implement are a *PermanentError naming them.
func (s *Signer) solverFor(ctx context.Context, req signer.Request, cfg cmacme.ACMEChallengeSolver) (solver, error) {
	switch {
	case cfg.HTTP01 != nil:
		return s.http01Solver(cfg.HTTP01, req)
	case cfg.DNS01 != nil:
		return s.dns01Solver(ctx, cfg.DNS01, req.ResourceNamespace)
	}
	return nil, signer.Permanent(ReasonUnsupportedSolver, "the chosen solver configures neither http01 nor dns01")
}
