package drime

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The one retry policy of the client (design.md, write path step 8):
// capped exponential backoff with full jitter, honouring Retry-After,
// retrying 429/5xx/52x and transport errors. Idempotent calls go through
// retry directly; non-idempotent ones (upload, register, create folder,
// move) pass a closure that first checks the listing after an ambiguous
// failure, so a lost answer never creates a duplicate.

const (
	defaultMaxAttempts = 8
	defaultBase        = 200 * time.Millisecond
	defaultCap         = 20 * time.Second
	// maxRetryAfter bounds a server's Retry-After so a bogus value cannot
	// park an upload for hours; ctx can always end the wait sooner.
	maxRetryAfter = 5 * time.Minute
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = defaultMaxAttempts
	}
	if p.Base <= 0 {
		p.Base = defaultBase
	}
	if p.Cap <= 0 {
		p.Cap = defaultCap
	}
	if p.Cap < p.Base {
		p.Cap = p.Base
	}
	return p
}

// ceiling is min(Cap, Base·2^attempt), attempt counted from 0.
func (p RetryPolicy) ceiling(attempt int) time.Duration {
	d := p.Base
	for i := 0; i < attempt; i++ {
		d *= 2 // stops at Cap long before it could overflow
		if d >= p.Cap {
			return p.Cap
		}
	}
	return min(d, p.Cap)
}

// delay is the wait before retry number attempt+1: uniform in
// [0, ceiling(attempt)] (full jitter, so many workers hitting the same 429
// spread out), or the server's Retry-After when that is longer.
func (c *Client) delay(attempt int, retryAfter time.Duration) time.Duration {
	ceil := c.policy.ceiling(attempt)
	d := time.Duration(c.jitter(int64(ceil) + 1))
	if retryAfter > maxRetryAfter {
		retryAfter = maxRetryAfter
	}
	if retryAfter > d {
		d = retryAfter
	}
	return d
}

// retry runs fn until it succeeds, fails with an error that is not
// retryable, uses up MaxAttempts, or ctx ends. fn gets the attempt number
// (0 first) and the previous attempt's error (nil first), so that a
// non-idempotent caller can verify before re-sending.
func (c *Client) retry(ctx context.Context, op, what string, fn func(attempt int, prev error) error) error {
	var prev error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			if prev != nil {
				return fmt.Errorf("drime: %s: %w (last error: %v)", what, err, prev)
			}
			return fmt.Errorf("drime: %s: %w", what, err)
		}
		err := fn(attempt, prev)
		if err == nil {
			return nil
		}
		if !IsRetryable(err) {
			return err
		}
		if attempt+1 >= c.policy.MaxAttempts {
			return fmt.Errorf("drime: %s: giving up after %d attempts: %w", what, attempt+1, err)
		}
		var ra time.Duration
		var ae *APIError
		if errors.As(err, &ae) {
			ra = ae.RetryAfter
		}
		d := c.delay(attempt, ra)
		ev := c.log.Warn().Str("op", op).Int("attempt", attempt+1).Dur("delay", d)
		if s := statusOf(err); s != 0 {
			ev = ev.Int("status", s)
		}
		ev.Str("cause", err.Error()).Msg("drime request failed, retrying")
		if serr := c.sleep(ctx, d); serr != nil {
			return fmt.Errorf("drime: %s: %w (last error: %v)", what, serr, err)
		}
		prev = err
	}
}

// sleepCtx waits d or until ctx ends, whichever is first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func randInt63n(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return rand.Int64N(n)
}

// parseRetryAfter reads delta-seconds (what Drime and the emulator send)
// or an HTTP date; anything else is 0.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// verified wraps a non-idempotent send: before every re-send that follows
// an ambiguous failure (the server may have acted), it asks check whether
// the earlier attempt took effect and, if so, adopts that result instead of
// acting twice. A check that fails keeps the doubt for the next round.
func (c *Client) verified(ctx context.Context, op, what string,
	send func() error, check func() (bool, error)) error {
	doubt := false
	adopted := func(attempt int) {
		c.log.Info().Str("op", op).Int("attempt", attempt).
			Msg("drime: an interrupted attempt had succeeded; adopted its result")
	}
	err := c.retry(ctx, op, what, func(attempt int, _ error) error {
		if doubt {
			ok, err := check()
			if err != nil {
				if IsRetryable(err) {
					return err
				}
				return fmt.Errorf("drime: %s: checking whether an interrupted attempt succeeded: %w", what, err)
			}
			if ok {
				adopted(attempt + 1)
				return nil
			}
			doubt = false
		}
		err := send()
		doubt = ambiguous(err)
		return err
	})
	if err != nil && doubt && ctx.Err() == nil {
		// Out of attempts right after an ambiguous failure: one last look,
		// so a success whose answer was lost is not reported as a failure.
		if ok, cerr := check(); cerr == nil && ok {
			adopted(c.policy.MaxAttempts)
			return nil
		}
	}
	return err
}
