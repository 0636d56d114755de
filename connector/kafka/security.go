package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// TLS makes every client of the source or sink connect to the brokers
// with TLS configured by c (default: no TLS). A nil c uses the system's
// CA certificates and TLS 1.2 or later.
func TLS(c *tls.Config) Option {
	if c == nil {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return connOpt(func(cc *connConfig) { cc.tls = c })
}

// SASLMechanism names a SASL mechanism.
type SASLMechanism string

// The SASL mechanisms SASL accepts.
const (
	Plain       SASLMechanism = "PLAIN"
	ScramSHA256 SASLMechanism = "SCRAM-SHA-256"
	ScramSHA512 SASLMechanism = "SCRAM-SHA-512"
)

// SASLMechanisms lists the mechanisms SASL accepts.
func SASLMechanisms() []SASLMechanism { return []SASLMechanism{Plain, ScramSHA256, ScramSHA512} }

// SASL makes every client of the source or sink log in with mechanism as
// user (default: no SASL). The password never appears in a message.
//
// A broker that rejects a login by closing the connection (older Kafka
// versions do; Kafka 1.0 and later answer SASL_AUTHENTICATION_FAILED)
// would leave the client retrying until its timeout and reporting a bare
// "EOF": after two such logins in a row, the next one fails at once with
// an error that says what to check (logged the first time), and a sink
// fails its next record with it.
func SASL(mechanism SASLMechanism, user, password string) Option {
	return connOpt(func(c *connConfig) {
		var m sasl.Mechanism
		switch mechanism {
		case Plain:
			m = plain.Auth{User: user, Pass: password}.AsMechanism()
		case ScramSHA256:
			m = scram.Auth{User: user, Pass: password}.AsSha256Mechanism()
		case ScramSHA512:
			m = scram.Auth{User: user, Pass: password}.AsSha512Mechanism()
		default:
			c.errs = append(c.errs, fmt.Errorf("unknown SASL mechanism %q; use one of %v", mechanism, SASLMechanisms()))
			return
		}
		c.sasl = &saslGuard{mech: m, user: user}
	})
}

// securityOpts returns the client options of TLS and SASL.
func (c *connConfig) securityOpts(log *slog.Logger) []kgo.Opt {
	var opts []kgo.Opt
	if c.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(c.tls))
	}
	if g := c.sasl; g != nil {
		g.setLog(log)
		opts = append(opts, kgo.SASL(g), kgo.WithHooks(g))
	}
	return opts
}

// saslGuard turns a login the broker rejects by closing the connection
// into a clear error (see SASL). The count starts over after a login
// succeeds (so a broker that was only restarting gets another chance)
// and with a new client (a restarted job).
type saslGuard struct {
	mech sasl.Mechanism
	user string

	mu       sync.Mutex
	log      *slog.Logger // nil: slog.Default()
	what     string       // "kafka source <name>", "kafka sink <topic>"
	closed   int          // authentications in a row cut off by the broker
	rejected error        // the last rejection, until a login succeeds
}

// saslClosedLimit is how many authentications in a row may be cut off
// before the guard reports it.
const saslClosedLimit = 2

func (g *saslGuard) setLog(log *slog.Logger) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.log == nil && log != nil {
		g.log = log
	}
}

func (g *saslGuard) setWhat(what string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.what = what
}

// Name is the mechanism's name.
func (g *saslGuard) Name() string { return g.mech.Name() }

// Authenticate starts an authentication, or fails when the broker has
// cut off the previous ones.
func (g *saslGuard) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	g.mu.Lock()
	var err error
	report := false
	if g.closed >= saslClosedLimit {
		g.closed = 0
		err = fmt.Errorf("SASL %s login of user %q rejected: broker %s closed the connection during authentication "+
			"%d times in a row; check sasl.username, sasl.password and sasl.mechanism, and whether the broker expects tls",
			g.mech.Name(), g.user, host, saslClosedLimit)
		report = g.rejected == nil
		g.rejected = err
	}
	log, what := g.log, g.what
	g.mu.Unlock()
	if err != nil {
		if report { // once until a login succeeds: clients retry
			if log == nil {
				log = slog.Default()
			}
			log.Error(what + ": " + err.Error())
		}
		return nil, nil, err
	}
	s, first, err := g.mech.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	return saslGuardSession{s: s, g: g}, first, nil
}

// err returns the last rejection of a login, nil once one succeeded.
func (g *saslGuard) err() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rejected
}

type saslGuardSession struct {
	s sasl.Session
	g *saslGuard
}

// Challenge passes the broker's challenge on; a completed login resets
// the count of cut-off ones.
func (s saslGuardSession) Challenge(resp []byte) (bool, []byte, error) {
	done, next, err := s.s.Challenge(resp)
	if done && err == nil {
		s.g.mu.Lock()
		s.g.closed, s.g.rejected = 0, nil
		s.g.mu.Unlock()
	}
	return done, next, err
}

// OnNewClient starts over with a new client (kgo.HookNewClient): a job
// that restarts tries to log in again before its records fail.
func (g *saslGuard) OnNewClient(*kgo.Client) {
	g.mu.Lock()
	g.closed, g.rejected = 0, nil
	g.mu.Unlock()
}

// OnBrokerRead counts the SASLAuthenticate responses that ended with the
// connection closed (kgo.HookBrokerRead).
func (g *saslGuard) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key != int16(kmsg.SASLAuthenticate) || err == nil {
		return
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		g.mu.Lock()
		g.closed++
		g.mu.Unlock()
	}
}
