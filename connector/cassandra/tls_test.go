package cassandra

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/cassandra/cqltest"
)

// selfSigned returns a server certificate for the loopback addresses of
// the stand-in's nodes and the PEM file of its CA (itself).
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stand-in"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca
}

func TestTLS(t *testing.T) {
	cert, ca := selfSigned(t)
	cl := standIn(t, cqltest.Nodes(2), cqltest.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	stmt := "INSERT INTO kv (k, v) VALUES (:k, :v)"
	cfg := &SinkConfig{Hosts: cl.Addrs(), Keyspace: "ks", Statement: stmt, TLS: &TLSConfig{CAFile: ca}, ConnectTimeout: 3 * time.Second}
	snk, err := cfg.build("job", "sink", true)
	if err != nil {
		t.Fatal(err)
	}
	w, err := snk.NewWriter(wctx{checkpointing: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, connector.Record{"k": "a", "v": int64(1)})
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if got := rows(t, cl, "kv"); len(got) != 1 {
		t.Errorf("rows %v", got)
	}
	// Without the CA the nodes' certificate is refused, for good.
	cfg.TLS = &TLSConfig{}
	snk, err = cfg.build("job", "sink", true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = snk.NewWriter(wctx{checkpointing: true}, nil)
	if !connector.IsPermanent(err) || !strings.Contains(err.Error(), "TLS handshake failed") {
		t.Errorf("without the CA: %v", err)
	}
}
