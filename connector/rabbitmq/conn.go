package rabbitmq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/sluicehq/sluice/connector"
)

// Environment variables read for the connection.
const (
	EnvURL      = "RABBITMQ_URL"
	EnvUsername = "RABBITMQ_USERNAME"
	EnvPassword = "RABBITMQ_PASSWORD"
)

// resolveURL returns the URL to dial: given, or from the environment, with
// credentials from the environment when it has none.
func resolveURL(given string) (string, error) {
	raw := given
	if raw == "" {
		raw = os.Getenv(EnvURL)
	}
	if raw == "" {
		raw = "amqp://localhost:5672/"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return "", fmt.Errorf("rabbitmq: URL %s is not an AMQP URL; use amqp://user:password@host:5672/vhost or amqps://...: %w",
			redact(raw), connector.ErrConfig)
	}
	if u.User == nil {
		if user := os.Getenv(EnvUsername); user != "" {
			u.User = url.UserPassword(user, os.Getenv(EnvPassword))
		}
	}
	return u.String(), nil
}

// redact returns raw with the password of a URL replaced by asterisks
// (anything that does not parse is shown as "(unparsable URL)").
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// dial opens a connection.
func (c *connConfig) dial(name string) (*amqp.Connection, error) {
	raw, err := resolveURL(c.url)
	if err != nil {
		return nil, err
	}
	cfg := amqp.Config{Heartbeat: c.heartbeat, Properties: amqp.NewConnectionProperties(),
		Dial: amqp.DefaultDial(10 * time.Second)}
	cfg.Properties.SetClientConnectionName(name)
	if c.tls != nil || strings.HasPrefix(raw, "amqps:") {
		if c.tls != nil {
			cfg.TLSClientConfig = c.tls.Clone()
		} else {
			cfg.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if strings.HasPrefix(raw, "amqp:") {
			raw = "amqps:" + strings.TrimPrefix(raw, "amqp:")
		}
	}
	conn, err := amqp.DialConfig(raw, cfg)
	if err != nil {
		return nil, classify(fmt.Errorf("rabbitmq: connect to %s: %w", redact(raw), scrub(err, raw)), "")
	}
	return conn, nil
}

// scrub removes the URL from err's message, if the library put it there.
func scrub(err error, raw string) error {
	if err == nil || !strings.Contains(err.Error(), raw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), raw, redact(raw)))
}

// classify marks the errors a retry cannot fix as permanent: refused
// credentials or access, a missing queue or exchange, a precondition the
// broker refuses. what names the queue or exchange concerned ("" none).
func classify(err error, what string) error {
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Code {
	case amqp.AccessRefused:
		return fmt.Errorf("%w: %w (check the user and password of the URL, or %s and %s, and the user's permissions on the virtual host%s)",
			err, connector.ErrRejected, EnvUsername, EnvPassword, forWhat(what))
	case amqp.NotFound:
		return fmt.Errorf("%w: %w (create it first, or correct the name%s)", err, connector.ErrRejected, forWhat(what))
	case amqp.NotAllowed, amqp.CommandInvalid, amqp.SyntaxError, amqp.NotImplemented:
		return fmt.Errorf("%w: %w", err, connector.ErrRejected)
	}
	return err
}

func forWhat(what string) string {
	if what == "" {
		return ""
	}
	return ": " + what
}

// consumerTimeout recognizes the broker closing a channel whose
// deliveries were left unacknowledged longer than its consumer_timeout,
// and returns the timeout the broker reports (0 when it does not say).
func consumerTimeout(err *amqp.Error) (time.Duration, bool) {
	if err == nil || err.Code != amqp.PreconditionFailed {
		return 0, false
	}
	r := strings.ToLower(err.Reason)
	if !strings.Contains(r, "timed out") || !(strings.Contains(r, "acknowledg") || strings.Contains(r, "consumer")) {
		return 0, false
	}
	if m := timeoutValue.FindStringSubmatch(err.Reason); m != nil {
		if ms, perr := strconv.ParseInt(m[1], 10, 64); perr == nil {
			return time.Duration(ms) * time.Millisecond, true
		}
	}
	return 0, true
}

var timeoutValue = regexp.MustCompile(`(?i)timeout value used:\s*(\d+)\s*ms`)

// backoff waits the attempt-th delay (from 0) between min and max, or
// until ctx is done.
func backoff(ctx context.Context, c *connConfig, attempt int) error {
	d := c.minBackoff << min(attempt, 20)
	if d > c.maxBackoff || d <= 0 {
		d = c.maxBackoff
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

// transient reports whether err may go away on reconnecting.
func transient(err error) bool {
	if connector.IsPermanent(err) {
		return false
	}
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return ae.Recover || ae.Code == amqp.ConnectionForced || ae.Code == amqp.FrameError ||
			ae.Code == amqp.ChannelError || ae.Code == amqp.ResourceLocked || ae.Code == amqp.InternalError
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, amqp.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "EOF")
}
