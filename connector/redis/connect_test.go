package redis

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/connector"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeCerts writes a CA and a server certificate for 127.0.0.1 signed by
// it into dir: ca.pem, server.pem, server-key.pem.
func writeCerts(t *testing.T, dir string) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	caCert, _ := x509.ParseCertificate(caDER)
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	for name, blk := range map[string]*pem.Block{
		"ca.pem": {Type: "CERTIFICATE", Bytes: caDER}, "server.pem": {Type: "CERTIFICATE", Bytes: srvDER},
		"server-key.pem": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTLS writes through TLS (rediss://, tls.ca_file): a server whose
// certificate is not trusted is refused permanently.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	writeCerts(t, dir)
	port := freePort(t)
	plain := startServer(t, "--tls-port", strconv.Itoa(port), "--tls-cert-file", filepath.Join(dir, "server.pem"),
		"--tls-key-file", filepath.Join(dir, "server-key.pem"), "--tls-ca-cert-file", filepath.Join(dir, "ca.pem"),
		"--tls-auth-clients", "no")
	cl := client(t, plain)
	ctx := context.Background()
	secure := fmt.Sprintf("rediss://127.0.0.1:%d/0", port)

	// Through the YAML configuration's tls: option.
	tc := &TLSConfig{CAFile: filepath.Join(dir, "ca.pem")}
	cfg := tc.load(func(key, format string, args ...any) { t.Fatalf("%s: %s", key, fmt.Sprintf(format, args...)) })
	if err := write(t, Set, false, []Command{{Key: "k", Value: "over tls"}}, URL(secure), TLS(cfg)); err != nil {
		t.Fatal(err)
	}
	eq(t, cl.Get(ctx, "k").Val(), "over tls")
	if err := write(t, IncrBy, true, []Command{{Key: "n", By: 2}}, URL(secure), TLS(cfg)); err != nil {
		t.Fatal(err)
	}
	eq(t, cl.Get(ctx, "n").Val(), "2")

	// The system's CA certificates do not include the test CA.
	err := write(t, Set, false, []Command{{Key: "k", Value: "v"}}, URL(secure))
	if !errors.Is(err, connector.ErrRejected) || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("untrusted server certificate: %v, want a rejection naming ca_file", err)
	}
}

// TestSentinel writes to the master a Sentinel names, in both delivery
// modes.
func TestSentinel(t *testing.T) {
	master := startServer(t)
	mport := strings.TrimSuffix(strings.TrimPrefix(master, "redis://127.0.0.1:"), "/0")
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	if err := os.WriteFile(conf, []byte("sentinel monitor mymaster 127.0.0.1 "+mport+" 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sport := launch(t, conf, "--sentinel")
	u := fmt.Sprintf("redis://127.0.0.1:%d?master_name=mymaster", sport)
	cl := client(t, master)
	ctx := context.Background()
	for _, exactly := range []bool{false, true} {
		if err := write(t, IncrBy, exactly, []Command{{Key: "n", By: 1}}, URL(u), WithMode(Sentinel)); err != nil {
			t.Fatal(err)
		}
	}
	eq(t, cl.Get(ctx, "n").Val(), "2")
	err := write(t, IncrBy, false, []Command{{Key: "n", By: 1}}, URL(fmt.Sprintf("redis://127.0.0.1:%d?master_name=other&max_retries=-1", sport)), WithMode(Sentinel))
	if err == nil || connector.IsPermanent(err) {
		// go-redis says the same of a master the Sentinels do not know
		// as of Sentinels that do not answer: transient.
		t.Fatalf("a master the Sentinel does not know: %v, want a transient error", err)
	}
	t.Log(err)
}

// TestCredentials: the ACL user and password come from the URL, from the
// options (YAML username:, password: ${REDIS_PASSWORD}), or from both.
func TestCredentials(t *testing.T) {
	u := startServer(t)
	cl := client(t, u)
	ctx := context.Background()
	if err := cl.Do(ctx, "ACL", "SETUSER", "app", "on", ">app-pw", "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(u, "redis://")
	cases := []struct {
		url  string
		opts []Option
	}{
		{"redis://app:app-pw@" + host, nil},
		{"redis://app@" + host, []Option{Credentials("", "app-pw")}},
		{u, []Option{Credentials("app", "app-pw")}},
	}
	for i, c := range cases {
		if err := write(t, IncrBy, i%2 == 1, []Command{{Key: "n", By: 1}}, append(c.opts, URL(c.url))...); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
	}
	eq(t, cl.Get(ctx, "n").Val(), "3")
}

// startCluster starts a three-node Redis Cluster of the test's own and
// returns its URL for the sink (Cluster mode) and a client.
func startCluster(t *testing.T) (string, *redis.ClusterClient) {
	var nodes []string
	for range 3 {
		u := startServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
		nodes = append(nodes, strings.TrimSuffix(strings.TrimPrefix(u, "redis://"), "/0"))
	}
	out, err := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, nodes...), "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: nodes})
	t.Cleanup(func() { cc.Close() })
	ctx := context.Background()
	waitFor(t, 20*time.Second, func() bool {
		for _, n := range nodes {
			c := redis.NewClient(&redis.Options{Addr: n})
			info, _ := c.ClusterInfo(ctx).Result()
			c.Close()
			if !strings.Contains(info, "cluster_state:ok") {
				return false
			}
		}
		return true
	}, "cluster_state:ok on every node")
	u := "redis://" + nodes[0] + "?addr=" + nodes[1]
	waitFor(t, 20*time.Second, func() bool {
		return write(t, Set, false, []Command{{Key: "a", Value: "1"}, {Key: "b", Value: "1"}, {Key: "c", Value: "1"}}, URL(u), WithMode(Cluster)) == nil
	}, "the cluster to take writes")
	return u, cc
}

// TestCluster writes keys spread over the slots of a three-node Redis
// Cluster, in both delivery modes.
func TestCluster(t *testing.T) {
	u, cc := startCluster(t)
	ctx := context.Background()
	var sets, incrs []Command
	for i := range 100 {
		sets = append(sets, Command{Key: fmt.Sprintf("k%d", i), Value: strconv.Itoa(i)})
		incrs = append(incrs, Command{Key: fmt.Sprintf("n%d", i%10), By: 1})
	}
	if err := write(t, Set, false, sets, URL(u), WithMode(Cluster)); err != nil {
		t.Fatal(err)
	}
	if err := write(t, IncrBy, false, incrs, URL(u), WithMode(Cluster)); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		eq(t, cc.Get(ctx, fmt.Sprintf("k%d", i)).Val(), strconv.Itoa(i))
	}
	for i := range 10 {
		eq(t, cc.Get(ctx, fmt.Sprintf("n%d", i)).Val(), "10")
	}
	// The slots the sink computes are the cluster's.
	for i := range 20 {
		for _, k := range []string{fmt.Sprintf("k%d", i), fmt.Sprintf("{u%d}:x", i), "{" + slotTag(i*800) + "}"} {
			want, err := cc.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			eq(t, int64(slotOf(k)), want)
		}
	}
	// Exactly-once: each slot's commands under a fence in that slot; a
	// repeated commit applies nothing.
	s, err := NewSink(IncrBy, identity, URL(u), WithMode(Cluster), ExactlyOnce(), MaxTransactionCommands(3))
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Declare(true); d.Guarantee != connector.ExactlyOnce || !strings.Contains(d.Reason, "hash slot") {
		t.Errorf("%v: %s", d.Guarantee, d.Reason)
	}
	w, err := s.NewWriter(testCtx{checkpointing: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range incrs {
		w.Write(ctx, c, 0)
	}
	c, _ := w.(connector.PreCommitter).PreCommit(ctx, 1)
	st, _ := w.(connector.StatefulWriter).SnapshotState(1)
	for range 2 {
		cm, _ := s.NewCommitter(testCtx{})
		if err := cm.Commit(ctx, 1, c); err != nil {
			t.Fatal(err)
		}
		cm.Close()
		for i := range 10 {
			eq(t, cc.Get(ctx, fmt.Sprintf("n%d", i)).Val(), "20")
		}
	}
	fence := w.(*txWriter[Command]).fence
	eq(t, cc.HGet(ctx, fence, "max").Val(), "1")
	// A restore of checkpoint 1 passes the output-ahead check; of 0 not.
	if _, err := s.NewWriter(testCtx{checkpointing: true}, st); err != nil {
		t.Fatal(err)
	}
	old := writerState{fence: fence, checkpoint: 0}.encode()
	if _, err := s.NewWriter(testCtx{checkpointing: true}, [][]byte{old}); !errors.Is(err, connector.ErrOutputAhead) {
		t.Fatalf("restore behind the fence: %v, want ErrOutputAhead", err)
	}
}

func TestCRC16(t *testing.T) {
	eq(t, crc16("123456789"), uint16(0x31C3)) // the check value of CRC-16/XMODEM
	eq(t, slotOf("{user1000}.following"), slotOf("{user1000}.followers"))
	eq(t, slotOf("foo{}{bar}"), int(crc16("foo{}{bar}")%numSlots))
	for s := range numSlots {
		if slotOf("{"+slotTag(s)+"}") != s {
			t.Fatalf("slotTag(%d) = %q is in slot %d", s, slotTag(s), slotOf("{"+slotTag(s)+"}"))
		}
	}
}
