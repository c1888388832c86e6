// Package signertest provides fakes of the signer interfaces for controller tests, and the
// assertions on what a signer returns. The keys, requests and CAs those tests sign with come
// from test/pki, which internal/csr's own tests can use too.
package signertest

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// errNoResult is what an unconfigured fake returns: a plain error, which the controller retries,
// so a test that forgot to configure a result sees retries rather than a silent success.
var errNoResult = errors.New("signertest: no result configured")

// Result is what one call to Signer.Sign returns.
type Result struct {
	Chain signer.PEMChain
	Err   error
}

// Returns is a successful result.
func Returns(chain signer.PEMChain) Result { return Result{Chain: chain} }

// Fails is a failed result; err is typically signer.Pending(...) or signer.Permanent(...).
func Fails(err error) Result { return Result{Err: err} }

// Signer is a signer.Signer whose results are scripted. Calls consume the queued results in
// order; once the queue is empty the last result consumed keeps being returned, so
// New(Returns(x)) always returns x, and results enqueued later take over at the next call.
// It records every request and is safe for concurrent use.
type Signer struct {
	mu       sync.Mutex
	results  []Result
	last     Result
	started  bool // whether last holds a consumed result
	requests []signer.Request
}

var _ signer.Signer = (*Signer)(nil)

// New returns a fake signer that answers with results in order.
func New(results ...Result) *Signer {
	return &Signer{results: slices.Clone(results)}
}

// Enqueue appends results for later calls.
func (s *Signer) Enqueue(results ...Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results = append(s.results, results...)
}

// Sign records req and returns the next result.
func (s *Signer) Sign(_ context.Context, req signer.Request) (signer.PEMChain, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	if len(s.results) > 0 {
		s.last, s.started = s.results[0], true
		s.results = s.results[1:]
	}
	if !s.started {
		return nil, errNoResult
	}
	r := s.last
	// A copy, so a controller that modifies the chain cannot change later answers.
	return signer.PEMChain(bytes.Clone(r.Chain)), r.Err
}

// Requests returns the requests received so far, oldest first.
func (s *Signer) Requests() []signer.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]signer.Request(nil), s.requests...)
}

// Calls returns how many times Sign was called.
func (s *Signer) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Progress is a signer.Progress that keeps annotations in memory, for tests of signers that
// persist progress. The zero value is ready to use; it is safe for concurrent use.
type Progress struct {
	mu          sync.Mutex
	annotations map[string]string
	err         error
}

var _ signer.Progress = (*Progress)(nil)

// FailWith makes every later Annotate return err without storing anything, to test that a
// signer does not report pending before its marker is persisted. A nil err restores success.
func (p *Progress) FailWith(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

// Annotate stores key=value unless FailWith set an error.
func (p *Progress) Annotate(_ context.Context, key, value string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if p.annotations == nil {
		p.annotations = map[string]string{}
	}
	p.annotations[key] = value
	return nil
}

// Annotations returns a copy of the stored annotations.
func (p *Progress) Annotations() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.annotations)
}
