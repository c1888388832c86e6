package acme

import "time"

// Default polling of a pending order. An ACME server validates in seconds, so the first looks
// come quickly; an order stuck on slow DNS propagation is looked at every half minute at most.
const (
	defaultPollInterval    = 2 * time.Second
	defaultMaxPollInterval = 30 * time.Second
)

// pollBackoff is how long to wait before looking at an order again.
type pollBackoff struct {
	base, max time.Duration
}

// after doubles the base interval every two idle polls, so a quick server is answered quickly
// and a slow one is not hammered, capped at max.
func (b pollBackoff) after(idlePolls int) time.Duration {
	d := b.base
	for i := 0; i < idlePolls/2 && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}
