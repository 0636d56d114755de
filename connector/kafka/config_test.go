package kafka

import (
	"crypto/tls"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/connector"
)

func TestSecurityOptions(t *testing.T) {
	dec := ValueDecoder(func(b []byte) ([]byte, error) { return b, nil })
	ser := Serializer[[]byte](func(b []byte) (*kgo.Record, error) { return &kgo.Record{Value: b}, nil })
	cases := []struct {
		name    string
		opt     Option
		wantErr string // of NewSource and NewSink
		tls     bool
		sasl    string // mechanism name
	}{
		{name: "tls default", opt: TLS(nil), tls: true},
		{name: "tls", opt: TLS(&tls.Config{ServerName: "k", MinVersion: tls.VersionTLS13}), tls: true},
		{name: "plain", opt: SASL(Plain, "u", "p"), sasl: "PLAIN"},
		{name: "scram-256", opt: SASL(ScramSHA256, "u", "p"), sasl: "SCRAM-SHA-256"},
		{name: "scram-512", opt: SASL(ScramSHA512, "u", "p"), sasl: "SCRAM-SHA-512"},
		{name: "unknown mechanism", opt: SASL("GSSAPI", "u", "p"), wantErr: `unknown SASL mechanism "GSSAPI"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, serr := NewSource(dec, Brokers("b:1"), Topics("t"), c.opt)
			snk, kerr := NewSink(ser, Brokers("b:1"), c.opt)
			if c.wantErr != "" {
				for _, err := range []error{serr, kerr} {
					if err == nil || !strings.Contains(err.Error(), c.wantErr) {
						t.Errorf("got %v, want an error containing %q", err, c.wantErr)
					}
				}
				return
			}
			if serr != nil || kerr != nil {
				t.Fatal(serr, kerr)
			}
			for _, conn := range []*connConfig{&src.cfg.conn, &snk.cfg.conn} {
				if (conn.tls != nil) != c.tls {
					t.Errorf("tls = %v", conn.tls)
				}
				if conn.tls != nil && conn.tls.MinVersion < tls.VersionTLS12 {
					t.Errorf("tls MinVersion %x", conn.tls.MinVersion)
				}
				if c.sasl == "" {
					if conn.sasl != nil {
						t.Error("SASL is on")
					}
					continue
				}
				if conn.sasl == nil || conn.sasl.Name() != c.sasl {
					t.Errorf("SASL %v, want %s", conn.sasl, c.sasl)
				}
			}
			if c.sasl != "" && src.cfg.conn.sasl == snk.cfg.conn.sasl {
				t.Error("a source and a sink share their SASL guard")
			}
		})
	}
}

// TestSASLGuard: after logins the broker cut off twice in a row, the
// next fails with a message saying what to check, and a sink's next
// record fails with it; a new client starts over.
func TestSASLGuard(t *testing.T) {
	ser := Serializer[[]byte](func(b []byte) (*kgo.Record, error) { return &kgo.Record{Value: b}, nil })
	snk, err := NewSink(ser, Brokers("b:1"), DefaultTopic("out"), SASL(Plain, "alice", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	g := snk.cfg.conn.sasl
	if _, err := snk.ser([]byte("x")); err != nil {
		t.Fatalf("before any login: %v", err)
	}
	for range saslClosedLimit {
		g.OnBrokerRead(kgo.BrokerMetadata{}, int16(kmsg.SASLAuthenticate), 0, 0, 0, io.EOF)
	}
	_, _, err = g.Authenticate(t.Context(), "b:1")
	if err == nil || !strings.Contains(err.Error(), `SASL PLAIN login of user "alice" rejected`) || strings.Contains(err.Error(), "pw") {
		t.Fatalf("Authenticate = %v", err)
	}
	if _, err := snk.ser([]byte("x")); err == nil {
		t.Error("a record was serialized after the login was rejected")
	}
	g.OnNewClient(nil)
	if _, err := snk.ser([]byte("x")); err != nil {
		t.Errorf("after a new client: %v", err)
	}
}

func TestConfigDeclare(t *testing.T) {
	cases := []struct {
		name          string
		cfg           connector.Declarer
		checkpointing bool
		want          connector.Guarantee
	}{
		{"source with checkpoints", &SourceConfig{Start: "earliest", Brokers: []string{"b:1"}, Topic: "t"}, true, connector.ExactlyOnce},
		{"source from earliest without checkpoints", &SourceConfig{Start: "earliest", Brokers: []string{"b:1"}, Topic: "t"}, false, connector.AtLeastOnce},
		{"source from latest without checkpoints", &SourceConfig{Start: "latest", Brokers: []string{"b:1"}, Topic: "t"}, false, connector.AtMostOnce},
		{"exactly-once sink", &SinkConfig{Delivery: "exactly-once", Brokers: []string{"b:1"}, Topic: "t", TransactionTimeout: 15 * time.Minute}, true, connector.ExactlyOnce},
		{"exactly-once sink without checkpoints", &SinkConfig{Delivery: "exactly-once", Brokers: []string{"b:1"}, Topic: "t", TransactionTimeout: 15 * time.Minute}, false, connector.AtLeastOnce},
		{"at-least-once sink", &SinkConfig{Delivery: "at-least-once", Brokers: []string{"b:1"}, Topic: "t"}, true, connector.AtLeastOnce},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := c.cfg.Declare(c.checkpointing); d.Guarantee != c.want || d.Reason == "" {
				t.Errorf("Declare = %+v, want %v with a reason", d, c.want)
			}
		})
	}
}

// TestConfigTLSWithoutCheck: a configuration built in Go, without the
// YAML decoder's check, still gets its TLS, and a file that cannot be
// loaded is an error of NewSource.
func TestConfigTLSWithoutCheck(t *testing.T) {
	off := false
	cases := []struct {
		name    string
		tls     *TLSConfig
		wantTLS bool
		wantErr string
	}{
		{"none", nil, false, ""},
		{"system roots", &TLSConfig{}, true, ""},
		{"disabled", &TLSConfig{Enabled: &off, CAFile: "/nonexistent/ca.pem"}, false, ""},
		{"missing file", &TLSConfig{CAFile: "/nonexistent/ca.pem"}, false, "tls.ca_file: open /nonexistent/ca.pem"},
		{"cert without key", &TLSConfig{CertFile: "c.pem"}, false, "tls.key_file: missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := &SourceConfig{Brokers: []string{"b:1"}, Topic: "t", Start: "earliest", TLS: c.tls}
			dec := ValueDecoder(func([]byte) (connector.Record, error) { return nil, nil })
			src, err := NewSource(dec, cfg.options("s")...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("NewSource = %v, want an error containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (src.cfg.conn.tls != nil) != c.wantTLS {
				t.Errorf("tls = %+v", src.cfg.conn.tls)
			}
		})
	}
}
