package connectortest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/crashtest"
)

// Params are what a case's New (and a sink case's Read) needs: addresses,
// queue or topic names. They reach the child processes of the SIGKILL
// check as text.
type Params map[string]string

// Main is the TestMain of a package that uses the suite:
//
//	func TestMain(m *testing.M) { connectortest.Main(m) }
//
// In a child process of the SIGKILL check it runs the case's job instead
// of the tests. (It is crashtest.Main: a package with crashtest jobs of
// its own needs only one of them.)
func Main(m *testing.M) { crashtest.Main(m) }

// Sizes of the checks.
const (
	// records each in-process check works through
	checkRecords = 600
	// records per second (all subtasks) of the rate-limited checks: a
	// check runs about checkRecords/checkRate seconds
	checkRate = 400
	// records per second of the SIGKILL check's killed runs
	tortureRate = 500
	// checkpoint interval of every check
	interval = 100 * time.Millisecond
	// how long a check may take at most
	checkTimeout = 90 * time.Second
)

// check compares got with the lines that each record's effect exactly
// once gives (want), by guarantee g.
func check(got, want []string, g connector.Guarantee) error {
	d := crashtest.Compare(got, want)
	switch g {
	case connector.ExactlyOnce:
		if !d.OK() {
			return fmt.Errorf("not exactly once: %v", d)
		}
	case connector.AtLeastOnce:
		if len(d.Missing) > 0 || len(d.Unexpected) > 0 {
			return fmt.Errorf("not at least once (duplicates are allowed): %v", d)
		}
	case connector.AtMostOnce:
		if len(d.Duplicated) > 0 || len(d.Unexpected) > 0 {
			return fmt.Errorf("not at most once (gaps are allowed): %v", d)
		}
	default:
		return fmt.Errorf("no guarantee declared")
	}
	return nil
}

// numbers returns "0".."n-1".
func numbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// declared returns what x declares with and without checkpoints, failing
// the test if it declares nothing.
func declared(t testing.TB, what string, x any) (with, without connector.Declaration) {
	t.Helper()
	d, ok := x.(connector.Declarer)
	if !ok {
		t.Fatalf("%s %T declares no guarantee: implement connector.Declarer", what, x)
	}
	with, without = d.Declare(true), d.Declare(false)
	for _, c := range []struct {
		ck bool
		d  connector.Declaration
	}{{true, with}, {false, without}} {
		if c.d.Guarantee == connector.NoGuarantee || c.d.Reason == "" {
			t.Errorf("%s %T with checkpointing=%v declares %v with reason %q: want a guarantee and the reason for it", what, x, c.ck, c.d.Guarantee, c.d.Reason)
		}
	}
	if without.Guarantee > with.Guarantee {
		t.Errorf("%s %T declares %v without checkpoints but only %v with them", what, x, without.Guarantee, with.Guarantee)
	}
	return with, without
}

// limiter spaces calls to rate per second over all callers; a zero
// limiter does not wait.
type limiter struct {
	mu   sync.Mutex
	step time.Duration
	next time.Time
}

func newLimiter(rate int) *limiter {
	return &limiter{step: time.Second / time.Duration(rate)}
}

func (l *limiter) wait() {
	if l == nil || l.step == 0 {
		return
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(l.step)
	d := l.next.Sub(now)
	l.mu.Unlock()
	if d > 2*time.Millisecond {
		time.Sleep(d)
	}
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(ctx context.Context, deadline time.Duration, cond func() bool) bool {
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}

// caseID returns a name for one check's external objects (queue, topic,
// index): the case, the check and a per-process counter, so that checks
// and repeated runs (-count) do not meet.
func caseID(name, check string) string {
	idMu.Lock()
	defer idMu.Unlock()
	idSeq++
	return fmt.Sprintf("ct-%s-%s-%d-%d", name, check, os.Getpid(), idSeq)
}

var (
	idMu  sync.Mutex
	idSeq int
)

// encodeParams adds p to the crashtest parameters under a prefix, and
// decodeParams takes them back out.
func encodeParams(p Params, into map[string]string) {
	for k, v := range p {
		into["p."+k] = v
	}
}

func decodeParams(from map[string]string) Params {
	p := Params{}
	for k, v := range from {
		if len(k) > 2 && k[:2] == "p." {
			p[k[2:]] = v
		}
	}
	return p
}
