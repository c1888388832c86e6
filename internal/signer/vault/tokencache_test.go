package vault

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// countingLogin is a login that counts its calls and, when gate is set, blocks until it is closed.
type countingLogin struct {
	calls  atomic.Int32
	gate   chan struct{}
	ttl    time.Duration
	err    error
	prefix string
}

func (l *countingLogin) login(ctx context.Context) (loginResult, error) {
	n := l.calls.Add(1)
	if l.gate != nil {
		select {
		case <-l.gate:
		case <-ctx.Done():
			return loginResult{}, ctx.Err()
		}
	}
	if l.err != nil {
		return loginResult{}, l.err
	}
	return loginResult{token: l.prefix + string(rune('0'+n)), ttl: l.ttl}, nil
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestConcurrentCallersShareOneLogin(t *testing.T) {
	c := newTokenCache(clocktesting.NewFakePassiveClock(epoch))
	l := &countingLogin{gate: make(chan struct{}), ttl: time.Hour, prefix: "t"}
	key := cacheKey{issuer: "a", generation: 1, identity: "approle"}
	var wg sync.WaitGroup
	tokens := make([]string, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() { tokens[i], errs[i] = c.get(context.Background(), key, l.login) })
	}
	// Every caller is either running the login or waiting for it before the login may finish.
	for l.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(l.gate)
	wg.Wait()
	for i := range 20 {
		if errs[i] != nil || tokens[i] != "t1" {
			t.Errorf("caller %d got %q, %v; want t1", i, tokens[i], errs[i])
		}
	}
	if n := l.calls.Load(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
}

func TestATokenIsReusedUntilShortlyBeforeItsLeaseEnds(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(epoch)
	c := newTokenCache(clk)
	l := &countingLogin{ttl: time.Hour, prefix: "t"}
	key := cacheKey{issuer: "a", generation: 1, identity: "approle"}
	get := func() string {
		t.Helper()
		tok, err := c.get(context.Background(), key, l.login)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	get()
	clk.SetTime(epoch.Add(54 * time.Minute)) // an hour's lease is renewed 5m before its end
	if tok := get(); tok != "t1" {
		t.Errorf("got %s at 54m, want the first token", tok)
	}
	clk.SetTime(epoch.Add(55 * time.Minute))
	if tok := get(); tok != "t2" {
		t.Errorf("got %s at 55m, want a fresh login", tok)
	}
}

func TestReuseMargins(t *testing.T) {
	cases := []struct {
		ttl, want time.Duration
	}{
		{ttl: 0, want: unboundedReuse},
		{ttl: 10 * time.Second, want: 8 * time.Second},
		{ttl: 10 * time.Minute, want: 8 * time.Minute},
		{ttl: time.Hour, want: 55 * time.Minute},
		{ttl: 24 * time.Hour, want: 24*time.Hour - maxRenewMargin},
	}
	for _, tc := range cases {
		if got := reuseUntil(epoch, tc.ttl).Sub(epoch); got != tc.want {
			t.Errorf("ttl %s: reused for %s, want %s", tc.ttl, got, tc.want)
		}
	}
}

func TestAChangedKeyLogsInAgain(t *testing.T) {
	c := newTokenCache(clocktesting.NewFakePassiveClock(epoch))
	l := &countingLogin{ttl: time.Hour, prefix: "t"}
	for _, key := range []cacheKey{
		{issuer: "a", generation: 1, identity: "approle rv=1"},
		{issuer: "a", generation: 1, identity: "approle rv=2"}, // rotated Secret
		{issuer: "a", generation: 2, identity: "approle rv=2"}, // edited issuer
		{issuer: "b", generation: 2, identity: "approle rv=2"}, // re-created issuer
	} {
		if _, err := c.get(context.Background(), key, l.login); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.calls.Load(); n != 4 {
		t.Errorf("%d logins, want 4", n)
	}
	if len(c.entries) != 2 {
		t.Errorf("%d entries, want one per issuer", len(c.entries))
	}
}

func TestARefusedLoginIsHeldBriefly(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(epoch)
	c := newTokenCache(clk)
	l := &countingLogin{err: signer.Pending(ReasonErrorLogin, "invalid role or secret ID")}
	key := cacheKey{issuer: "a", generation: 1, identity: "approle"}
	for range 3 {
		if _, err := c.get(context.Background(), key, l.login); err == nil {
			t.Fatal("no error from a refused login")
		}
	}
	if n := l.calls.Load(); n != 1 {
		t.Errorf("%d logins within the hold, want 1", n)
	}
	clk.SetTime(epoch.Add(refusedLoginHold))
	_, _ = c.get(context.Background(), key, l.login)
	if n := l.calls.Load(); n != 2 {
		t.Errorf("%d logins after the hold, want 2", n)
	}
}

func TestTransportFailuresAreNotHeld(t *testing.T) {
	c := newTokenCache(clocktesting.NewFakePassiveClock(epoch))
	l := &countingLogin{err: errors.New("connection refused")}
	key := cacheKey{issuer: "a", generation: 1, identity: "approle"}
	for range 3 {
		_, _ = c.get(context.Background(), key, l.login)
	}
	if n := l.calls.Load(); n != 3 {
		t.Errorf("%d logins, want every call to try again", n)
	}
	if len(c.entries) != 0 {
		t.Errorf("a failed login left %d entries", len(c.entries))
	}
}

func TestInvalidateForgetsOnlyTheRefusedToken(t *testing.T) {
	c := newTokenCache(clocktesting.NewFakePassiveClock(epoch))
	l := &countingLogin{ttl: time.Hour, prefix: "t"}
	key := cacheKey{issuer: "a", generation: 1, identity: "approle"}
	first, _ := c.get(context.Background(), key, l.login)
	c.invalidate(key, first)
	second, _ := c.get(context.Background(), key, l.login)
	if second == first {
		t.Fatalf("got the invalidated token %s again", first)
	}
	// A caller that still holds the first token must not throw away the second.
	c.invalidate(key, first)
	if third, _ := c.get(context.Background(), key, l.login); third != second {
		t.Errorf("got %s, want %s to be kept", third, second)
	}
}

func TestAWaiterGivesUpWithItsContext(t *testing.T) {
	c := newTokenCache(clocktesting.NewFakePassiveClock(epoch))
	l := &countingLogin{gate: make(chan struct{}), ttl: time.Hour, prefix: "t"}
	defer close(l.gate)
	key := cacheKey{issuer: "a", generation: 1, identity: "approle"}
	go func() { _, _ = c.get(context.Background(), key, l.login) }()
	for l.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.get(ctx, key, l.login); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the waiter's context error", err)
	}
}
