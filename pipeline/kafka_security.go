package pipeline

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// The tls: and sasl: sections of the kafka source and sink.

var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// kafkaSecurity is the decoded tls: and sasl: of a kafka source or sink.
type kafkaSecurity struct {
	tls      *tls.Config    // nil: no TLS
	sasl     sasl.Mechanism // nil: no SASL
	saslUser string
}

// decodeKafkaSecurity decodes tls: and sasl:. Certificate files are read
// now, so that a missing or bad file is a mistake of the pipeline file,
// with its line.
func (d *decoder) decodeKafkaSecurity(o *obj) kafkaSecurity {
	var s kafkaSecurity
	if n := o.get("tls"); n != nil {
		s.tls = d.kafkaTLS(n, o.at("tls"))
	}
	if n := o.get("sasl"); n != nil {
		s.sasl, s.saslUser = d.kafkaSASL(n, o.at("sasl"))
	}
	return s
}

// clientOptions returns the franz-go options of every client of one
// source or sink, and the guard of its SASL logins (nil without SASL).
// what names the source or sink in log messages.
func (s kafkaSecurity) clientOptions(log *slog.Logger, what string) ([]kgo.Opt, *saslGuard) {
	var opts []kgo.Opt
	if s.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(s.tls))
	}
	var g *saslGuard
	if s.sasl != nil {
		g = &saslGuard{mech: s.sasl, user: s.saslUser, log: log, what: what}
		opts = append(opts, kgo.SASL(g), kgo.WithHooks(g))
	}
	return opts, g
}

// kafkaTLS decodes tls: true|false or a mapping; nil when TLS is off (or
// the section has mistakes).
func (d *decoder) kafkaTLS(n *node, path string) *tls.Config {
	if n.kind == kindScalar {
		switch strings.ToLower(strings.TrimSpace(n.text)) {
		case "true", "yes", "on":
			return &tls.Config{MinVersion: tls.VersionTLS12}
		case "false", "no", "off":
			return nil
		}
		d.fail(n, path, "%s is not allowed; use true (TLS, the system's CA certificates), false, "+
			"or a mapping, e.g. {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}", describe(n))
		return nil
	}
	o := d.object(n, path, "enabled", "ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify")
	if o == nil {
		return nil
	}
	enabled := d.boolean(o, "enabled", true)
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	c.ServerName = d.str(o, "server_name", "")
	c.InsecureSkipVerify = d.boolean(o, "insecure_skip_verify", false)
	caFile := d.str(o, "ca_file", "")
	certFile := d.str(o, "cert_file", "")
	keyFile := d.str(o, "key_file", "")
	if d.bad(o.get("enabled"), o.get("ca_file"), o.get("cert_file"), o.get("key_file")) {
		return nil // the files to read are not known
	}
	if (certFile == "") != (keyFile == "") {
		missing, given := "key_file", "cert_file"
		if certFile == "" {
			missing, given = "cert_file", "key_file"
		}
		d.fail(o.get(given), o.at(missing), "missing; %s (a client certificate) needs %s too", given, missing)
		return nil
	}
	if !enabled {
		return nil
	}
	if caFile != "" {
		pool, ok := d.certPool(o, "ca_file", caFile)
		if !ok {
			return nil
		}
		c.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			d.fail(o.get("cert_file"), o.at("cert_file"), "cannot load the client certificate and key (key_file %s): %v", keyFile, err)
			return nil
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}

// certPool reads the PEM certificates of the file in key.
func (d *decoder) certPool(o *obj, key, file string) (*x509.CertPool, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		d.fail(o.get(key), o.at(key), "%v", err)
		return nil, false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		what := "no PEM certificate"
		if blk, _ := pem.Decode(b); blk != nil {
			what = "no valid certificate (PEM block " + blk.Type + ")"
		}
		d.fail(o.get(key), o.at(key), "%s holds %s; give the PEM file of the CA certificate(s) that signed the brokers' certificates", file, what)
		return nil, false
	}
	return pool, true
}

// kafkaSASL decodes sasl:. Neither the password nor anything derived from
// it ever appears in a message.
func (d *decoder) kafkaSASL(n *node, path string) (sasl.Mechanism, string) {
	o := d.object(n, path, "mechanism", "username", "password")
	if o == nil {
		return nil, ""
	}
	mech, mn := d.enum(o, "mechanism", "", saslMechanisms...)
	if mn == nil {
		d.fail(n, o.at("mechanism"), "missing; use one of: %s", strings.Join(saslMechanisms, ", "))
	}
	user, _ := d.required(o, "username", "the SASL user name")
	pass := d.secret(o, "password", "the SASL password, e.g. password: ${KAFKA_PASSWORD}")
	if mech == "" || user == "" || pass == "" {
		return nil, ""
	}
	switch mech {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), user
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), user
	default:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), user
	}
}

// secret decodes a required string whose value is never shown.
func (d *decoder) secret(o *obj, key, hint string) string {
	n := o.get(key)
	if n == nil {
		d.fail(o.node(), o.at(key), "missing; %s", hint)
		return ""
	}
	if n.kind != kindScalar {
		d.fail(n, o.at(key), "expected a string, got %s", n.kind)
		return ""
	}
	if n.text == "" {
		d.fail(n, o.at(key), "must not be empty; %s", hint)
	}
	return n.text
}

// saslGuard turns a login the broker rejects by closing the connection
// into a clear error. Apache Kafka 1.0 and later answer wrong credentials
// with SASL_AUTHENTICATION_FAILED, which franz-go reports as is; brokers
// that close the connection instead (older Kafka, kfake) leave the client
// with io.EOF, which it retries until its timeout and then reports as a
// bare "EOF". After two authentications in a row ended that way, the next
// attempt fails at once with an error that says what to check (logged the
// first time), and the count starts over (so a broker that was only
// restarting gets another chance); a new client (a restarted job) starts
// over too.
type saslGuard struct {
	mech sasl.Mechanism
	user string
	log  *slog.Logger
	what string // "kafka source", "kafka sink"

	mu       sync.Mutex
	closed   int   // authentications in a row cut off by the broker
	rejected error // the last rejection, until a login succeeds
}

// saslClosedLimit is how many authentications in a row may be cut off
// before the guard reports it.
const saslClosedLimit = 2

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
	g.mu.Unlock()
	if err != nil {
		if report { // once until a login succeeds: clients retry
			g.log.Error(g.what + ": " + err.Error())
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
