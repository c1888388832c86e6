package vault

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

const (
	// loginTimeout bounds a login run on behalf of several CSRs. It is detached from the context
	// of the CSR that started it, so that one reconcile ending early does not fail the others.
	loginTimeout = 2 * requestTimeout
	// maxRenewMargin is how long before its lease ends a token stops being reused at most; the
	// margin is a fifth of the lease for shorter leases. A sign call must not start with a token
	// that expires before Vault gets to it.
	maxRenewMargin = 5 * time.Minute
	// unboundedReuse is how long a token without a lease (a root or periodic token, whose TTL
	// lookup reports as zero) is reused before it is checked again.
	unboundedReuse = time.Hour
	// refusedLoginHold is how long a login Vault refused is remembered: CSRs of the issuer
	// arriving meanwhile get the same answer instead of each knocking on Vault with a credential
	// already known to be wrong. A changed credential is a new key and is tried at once.
	refusedLoginHold = 15 * time.Second
)

// cacheKey identifies a credential: the issuer (its UID, so a re-created issuer starts afresh, and
// generation, so an edited spec does too) and the auth method with the versions of the Secrets it
// read.
type cacheKey struct {
	issuer     types.UID
	generation int64
	identity   string
}

// tokenCache keeps one Vault token per issuer and makes concurrent CSRs of an issuer share one
// login: the first caller logs in while the others wait for its result.
type tokenCache struct {
	clock   clock.PassiveClock
	mu      sync.Mutex
	entries map[types.UID]*tokenEntry
}

// tokenEntry is a login in flight (done open) or finished (done closed, then token or err is set).
type tokenEntry struct {
	key  cacheKey
	done chan struct{}
	// Written by the login's goroutine before done is closed, read only after.
	token      string
	err        error
	reuseUntil time.Time
}

func newTokenCache(clk clock.PassiveClock) *tokenCache {
	return &tokenCache{clock: clk, entries: map[types.UID]*tokenEntry{}}
}

// get returns a token for key, logging in with login when no usable one is cached and no login
// for key is in flight. Callers that find a login in flight share its outcome, failure included.
func (c *tokenCache) get(ctx context.Context, key cacheKey, login loginFunc) (string, error) {
	c.mu.Lock()
	if e := c.entries[key.issuer]; e != nil && e.key == key {
		select {
		case <-e.done:
			if c.clock.Now().Before(e.reuseUntil) {
				c.mu.Unlock()
				return e.token, e.err
			}
		default:
			c.mu.Unlock()
			select {
			case <-e.done:
				return e.token, e.err
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
	}
	e := &tokenEntry{key: key, done: make(chan struct{})}
	c.entries[key.issuer] = e
	c.pruneLocked()
	c.mu.Unlock()

	c.run(ctx, e, login)
	return e.token, e.err
}

// run performs the login for e and publishes its outcome.
func (c *tokenCache) run(ctx context.Context, e *tokenEntry, login loginFunc) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loginTimeout)
	defer cancel()
	l, err := login(lctx)
	now := c.clock.Now()

	c.mu.Lock()
	defer c.mu.Unlock()
	e.token, e.err = l.token, err
	switch _, refused := signer.AsPending(err); {
	case err == nil:
		e.reuseUntil = reuseUntil(now, l.ttl)
	case refused:
		e.reuseUntil = now.Add(refusedLoginHold)
	}
	close(e.done)
	// Anything else (Vault or the network in trouble) is not remembered: the next CSR tries again.
	if e.reuseUntil.IsZero() && c.entries[e.key.issuer] == e {
		delete(c.entries, e.key.issuer)
	}
}

// invalidate forgets token for key after Vault refused it, unless a newer login already replaced
// it.
func (c *tokenCache) invalidate(key cacheKey, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key.issuer]
	if e == nil || e.key != key {
		return
	}
	select {
	case <-e.done:
		if e.token == token {
			delete(c.entries, key.issuer)
		}
	default:
	}
}

// pruneLocked drops finished entries that can no longer be used, so issuers that were deleted do
// not keep their tokens in memory. Every entry expires within unboundedReuse.
func (c *tokenCache) pruneLocked() {
	now := c.clock.Now()
	for uid, e := range c.entries {
		select {
		case <-e.done:
			if !now.Before(e.reuseUntil) {
				delete(c.entries, uid)
			}
		default:
		}
	}
}

// reuseUntil is when a token obtained at now with the given lease stops being handed out.
func reuseUntil(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return now.Add(unboundedReuse)
	}
	return now.Add(ttl - min(ttl/5, maxRenewMargin))
}
