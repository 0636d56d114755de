package pipeline

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/connector/kafka"
	"github.com/sluicehq/sluice/internal/streamhook"
)

// The Kafka tests run against kfake, franz-go's in-process fake of Kafka
// (a protocol-level fake, see DESIGN.md), with SASL and TLS enabled.

func kafkaCluster(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(2, "in", "out")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func kafkaClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DisableClientMetrics()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceNumbers writes {"n": i} for i < n to topic in.
func produceNumbers(t *testing.T, cl *kgo.Client, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "in", Value: fmt.Appendf(nil, `{"n": %d}`, i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// consumeNumbers reads n records of topic out and returns their n fields,
// sorted.
func consumeNumbers(t *testing.T, addr string, n int, opts ...kgo.Opt) []int64 {
	t.Helper()
	cl := kafkaClient(t, addr, append(opts, kgo.ConsumeTopics("out"), kgo.FetchMaxWait(100*time.Millisecond))...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []int64
	for len(got) < n && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) {
			if ctx.Err() == nil {
				t.Errorf("fetch: %v", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			rec, err := decodeJSONRecord(r.Value)
			if err != nil {
				t.Fatalf("%q: %v", r.Value, err)
			}
			got = append(got, rec["n"].(int64))
		})
	}
	slices.Sort(got)
	return got
}

// kafkaPipeline reads topic in and writes the even numbers to topic out,
// both with security, the YAML of the tls: and sasl: keys.
func kafkaPipeline(security string) string {
	indent := func(s string) string { return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ") }
	return `
source:
  type: kafka
  brokers: ${BROKERS}
  topic: in
  bounded: true
` + indent(security) + `
steps:
  - filter: n % 2 == 0
sink:
  type: kafka
  brokers: ${BROKERS}
  topic: out
` + indent(security) + `
restart: {strategy: none}
`
}

func evens(n int) []int64 {
	var out []int64
	for i := 0; i < n; i += 2 {
		out = append(out, int64(i))
	}
	return out
}

func saslMechanism(mech, user, pass string) sasl.Mechanism {
	switch mech {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	}
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

// TestKafkaSASL runs a pipeline from and to a cluster that requires SASL,
// with each mechanism, the password from an environment variable.
func TestKafkaSASL(t *testing.T) {
	for _, m := range kafka.SASLMechanisms() {
		mech := string(m)
		t.Run(mech, func(t *testing.T) {
			addr := kafkaCluster(t, kfake.EnableSASL(), kfake.Superuser(mech, "alice", "s3cret-pw"))
			auth := kgo.SASL(saslMechanism(mech, "alice", "s3cret-pw"))
			produceNumbers(t, kafkaClient(t, addr, auth), 20)
			src := kafkaPipeline(`sasl: {mechanism: ` + mech + `, username: alice, password: "${KAFKA_PASSWORD}"}`)
			if _, err := run(t, src, map[string]string{"BROKERS": addr, "KAFKA_PASSWORD": "s3cret-pw"}); err != nil {
				t.Fatal(err)
			}
			if got := consumeNumbers(t, addr, 10, auth); !slices.Equal(got, evens(20)) {
				t.Errorf("got %v, want %v", got, evens(20))
			}
		})
	}
}

// TestKafkaWrongPassword: a login the broker rejects fails the job with an
// error that says so (kfake closes the connection, as Kafka before 1.0
// did; Kafka 1.0+ answers SASL_AUTHENTICATION_FAILED, which franz-go
// reports as is), and the password is in no message.
func TestKafkaWrongPassword(t *testing.T) {
	addr := kafkaCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "alice", "s3cret-pw"))
	vars := map[string]string{"BROKERS": addr, "KAFKA_PASSWORD": "wr0ng-pw"}
	sec := `sasl: {mechanism: SCRAM-SHA-512, username: alice, password: "${KAFKA_PASSWORD}"}`
	for name, src := range map[string]string{
		"source": kafkaPipeline(sec),
		// The producer retries a rejected login for ever; the next record
		// fails the job.
		"sink": `
source: {type: generator, fields: {n: i}, rate: 100}
sink: {type: kafka, brokers: "${BROKERS}", topic: out, ` + sec + `}
restart: {strategy: none}
`,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := run(t, src, vars)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, want := range []string{`SASL SCRAM-SHA-512 login of user "alice" rejected`, "sasl.password"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "wr0ng-pw") {
				t.Errorf("the error shows the password: %v", msg)
			}
			t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
		})
	}
}

// TestKafkaPasswordNotShown: the plan, the guarantee report and the
// decoded pipeline do not show the password.
func TestKafkaPasswordNotShown(t *testing.T) {
	src := kafkaPipeline(`sasl: {mechanism: PLAIN, username: alice, password: "${KAFKA_PASSWORD}"}`)
	p, err := Parse("t.yaml", []byte(src), env(map[string]string{"BROKERS": "127.0.0.1:1", "KAFKA_PASSWORD": "s3cret-pw"}))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Build(p, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := streamhook.Plan(e)
	if err != nil {
		t.Fatal(err)
	}
	shown := plan.String() + e.Guarantee().String() +
		fmt.Sprintf("%+v %+v %+v %+v %+v", p, *p.Source, *p.Sink, p.Source.impl.(*registeredSource).cfg, p.Sink.impl.(*registeredSink).cfg)
	if strings.Contains(shown, "s3cret-pw") {
		t.Errorf("the password is shown:\n%s", shown)
	}
	// A mistake next to the password does not show it either.
	_, err = Parse("t.yaml", []byte(strings.Replace(src, "mechanism: PLAIN", "mechanism: PLAN", 1)),
		env(map[string]string{"BROKERS": "127.0.0.1:1", "KAFKA_PASSWORD": "s3cret-pw"}))
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), `did you mean "PLAIN"`) {
		t.Errorf("got %v", err)
	}
}

// testPKI is a CA, a server certificate for 127.0.0.1 and a client
// certificate, as PEM files in a directory.
type testPKI struct {
	dir                 string
	server              tls.Certificate
	pool                *x509.CertPool
	ca, cert, key       string // PEM files of the CA and the client
	otherCA             string // a CA that signed nothing here
	serverCert, servKey string
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(0)
	template := func(cn string) *x509.Certificate {
		serial++
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	}
	newCA := func(cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		key := newKey()
		tpl := template(cn)
		tpl.IsCA, tpl.BasicConstraintsValid, tpl.KeyUsage = true, true, x509.KeyUsageCertSign
		der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		return cert, key, der
	}
	caCert, caKey, caDER := newCA("sluice test CA")
	p.ca = write("ca.pem", "CERTIFICATE", caDER)
	_, _, otherDER := newCA("another CA")
	p.otherCA = write("other-ca.pem", "CERTIFICATE", otherDER)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(caCert)
	leaf := func(cn string, usage x509.ExtKeyUsage, ips ...net.IP) (certFile, keyFile string) {
		key := newKey()
		tpl := template(cn)
		tpl.IPAddresses, tpl.ExtKeyUsage, tpl.KeyUsage = ips, []x509.ExtKeyUsage{usage}, x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return write(cn+".pem", "CERTIFICATE", der), write(cn+"-key.pem", "EC PRIVATE KEY", kder)
	}
	p.serverCert, p.servKey = leaf("broker", x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	p.cert, p.key = leaf("client", x509.ExtKeyUsageClientAuth)
	var err error
	if p.server, err = tls.LoadX509KeyPair(p.serverCert, p.servKey); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKafkaTLS runs a pipeline from and to a cluster that requires TLS
// with client certificates (mutual TLS) and SASL PLAIN over it.
func TestKafkaTLS(t *testing.T) {
	pki := newPKI(t)
	addr := kafkaCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pki.server},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", "bob", "pw"))
	client, err := tls.LoadX509KeyPair(pki.cert, pki.key)
	if err != nil {
		t.Fatal(err)
	}
	auth := []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{client}}),
		kgo.SASL(plain.Auth{User: "bob", Pass: "pw"}.AsMechanism())}
	produceNumbers(t, kafkaClient(t, addr, auth...), 20)
	vars := map[string]string{"BROKERS": addr, "CA": pki.ca, "CERT": pki.cert, "KEY": pki.key}
	saslYAML := "sasl: {mechanism: PLAIN, username: bob, password: pw}\n"
	src := kafkaPipeline("tls:\n  ca_file: ${CA}\n  cert_file: ${CERT}\n  key_file: ${KEY}\n" + saslYAML)
	if _, err := run(t, src, vars); err != nil {
		t.Fatal(err)
	}
	if got := consumeNumbers(t, addr, 10, auth...); !slices.Equal(got, evens(20)) {
		t.Errorf("got %v, want %v", got, evens(20))
	}

	// The brokers' certificate is checked: signed by another CA, it fails.
	vars["CA"] = pki.otherCA
	_, err = run(t, src, vars)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("brokers' certificate from an unknown CA: got %v", err)
	} else {
		t.Logf("unknown CA: %v", err)
	}
}

// TestKafkaTLSConfig checks what tls: builds.
func TestKafkaTLSConfig(t *testing.T) {
	pki := newPKI(t)
	tlsOf := func(yaml string) *tls.Config {
		t.Helper()
		indented := "  " + strings.ReplaceAll(strings.TrimSpace(yaml), "\n", "\n  ") + "\n"
		p, err := Parse("t.yaml", []byte("sink: {type: stdout}\nsource:\n  type: kafka\n  brokers: b:1\n  topic: t\n"+indented))
		if err != nil {
			t.Fatal(err)
		}
		return p.Source.impl.(*registeredSource).cfg.(*kafka.SourceConfig).TLS.Config()
	}
	c := tlsOf("tls:\n  ca_file: " + pki.ca + "\n  cert_file: " + pki.cert + "\n  key_file: " + pki.key + "\n  server_name: kafka.internal\n")
	if c == nil || c.RootCAs == nil || len(c.Certificates) != 1 || c.ServerName != "kafka.internal" || c.InsecureSkipVerify || c.MinVersion != tls.VersionTLS12 {
		t.Errorf("got %+v", c)
	}
	if c := tlsOf("tls: true\n"); c == nil || c.RootCAs != nil {
		t.Errorf("tls: true: %+v (want the system's roots)", c)
	}
	if c := tlsOf("tls: {insecure_skip_verify: true}\n"); c == nil || !c.InsecureSkipVerify {
		t.Errorf("insecure_skip_verify: %+v", c)
	}
	for _, off := range []string{"tls: false\n", "tls: {enabled: false, ca_file: /nonexistent/ca.pem}\n"} {
		if c := tlsOf(off); c != nil {
			t.Errorf("%q: TLS is on", off)
		}
	}
}
