package cassandra

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/sluicehq/sluice/connector"
)

// Defaults of the sink's options.
const (
	// DefaultPort is the CQL native port used for a host given without one.
	DefaultPort = 9042
	// DefaultMaxInFlight is the default of MaxInFlight.
	DefaultMaxInFlight = 64
	// DefaultRetries is the default of Retries.
	DefaultRetries = 5
	// DefaultRetryBackoff and DefaultMaxRetryBackoff are the defaults of
	// RetryBackoff.
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultMaxRetryBackoff = 5 * time.Second
	// DefaultTimeout is the default of Timeout.
	DefaultTimeout = 10 * time.Second
	// DefaultConnectTimeout is the default of ConnectTimeout.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultCommitTable is the default of CommitTable.
	DefaultCommitTable = "sluice_commits"
	// DefaultCommitChunk is the default of CommitChunk.
	DefaultCommitChunk = 32
	// DefaultMarkerTTL is the default of MarkerTTL.
	DefaultMarkerTTL = 7 * 24 * time.Hour
)

// Option configures a Sink.
type Option func(*config)

type config struct {
	hosts          []string
	keyspace       string
	consistency    gocql.Consistency
	localDC        string
	username       string
	password       func() connector.Secret // a function, so that printing the configuration never shows it
	tls            *tls.Config
	maxInFlight    int
	retries        int
	backoff        time.Duration
	maxBackoff     time.Duration
	timeout        time.Duration
	connectTimeout time.Duration
	writeAhead     bool
	sinkID         string
	commitKeyspace string
	commitTable    string
	commitChunk    int
	createCommit   bool
	markerTTL      time.Duration
	cluster        []func(*gocql.ClusterConfig)
	errs           []error
}

func defaults() config {
	return config{consistency: gocql.LocalQuorum, maxInFlight: DefaultMaxInFlight, retries: DefaultRetries,
		backoff: DefaultRetryBackoff, maxBackoff: DefaultMaxRetryBackoff, timeout: DefaultTimeout,
		connectTimeout: DefaultConnectTimeout, commitTable: DefaultCommitTable, commitChunk: DefaultCommitChunk,
		createCommit: true, markerTTL: DefaultMarkerTTL}
}

// Hosts sets the contact points: host or host:port (port 9042 when
// absent), one or more, comma-separated or apart. Required. The driver
// discovers the rest of the cluster from them (system.peers).
func Hosts(hosts ...string) Option {
	return func(c *config) {
		c.hosts = nil
		for _, h := range hosts {
			for p := range strings.SplitSeq(h, ",") {
				if p = strings.TrimSpace(p); p != "" {
					c.hosts = append(c.hosts, p)
				}
			}
		}
	}
}

// Keyspace sets the keyspace of a table the statement names without one
// (default none: the statement must name keyspace.table). The sink writes
// keyspace.table into the statement it sends (see Statement.Qualified);
// its session has no keyspace of its own.
func Keyspace(ks string) Option { return func(c *config) { c.keyspace = ks } }

// Consistency sets the consistency level of every write (default
// LOCAL_QUORUM).
func Consistency(cl gocql.Consistency) Option { return func(c *config) { c.consistency = cl } }

// LocalDC routes requests to the nodes of data center dc only, in turn
// (gocql's DCAwareRoundRobinPolicy; default: all discovered nodes in
// turn). Use it with LOCAL_QUORUM or LOCAL_ONE in a multi-DC cluster.
func LocalDC(dc string) Option { return func(c *config) { c.localDC = dc } }

// Credentials logs in with PasswordAuthenticator. The password never
// appears in a message or a log.
func Credentials(username, password string) Option {
	return func(c *config) {
		pw := connector.Secret(password)
		c.username, c.password = username, func() connector.Secret { return pw }
	}
}

// TLS connects with TLS, configured by cfg (nil: plain TCP, the default).
func TLS(cfg *tls.Config) Option { return func(c *config) { c.tls = cfg } }

// MaxInFlight bounds the writes a subtask has sent and not yet seen
// answered (default 64, at least 1). Write blocks while the bound is
// reached; every write, whatever its outcome, frees its place.
func MaxInFlight(n int) Option { return func(c *config) { c.maxInFlight = n } }

// Retries sets how many times a write that failed with a timeout, an
// unavailable or overloaded coordinator or a lost connection is tried
// again before the sink fails (default 5; 0: never). The job then restarts
// from its latest checkpoint.
func Retries(n int) Option { return func(c *config) { c.retries = n } }

// RetryBackoff sets the wait before the first retry and its cap: it
// doubles at every retry, with jitter (defaults 100ms and 5s).
func RetryBackoff(first, max time.Duration) Option {
	return func(c *config) { c.backoff, c.maxBackoff = first, max }
}

// Timeout bounds one request to the cluster (default 10s).
func Timeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// ConnectTimeout bounds connecting to a node (default 10s).
func ConnectTimeout(d time.Duration) Option { return func(c *config) { c.connectTimeout = d } }

// WriteAhead makes the sink exactly-once for any statement: the rows of
// a checkpoint are kept in the checkpoint and written when it completes,
// in batches recorded in the commit table, so that a commit repeated after
// a failure skips what was written (see the package documentation for the
// windows that remain). sinkID names the sink in the commit table: unique
// among the jobs writing to the cluster, the same across restores.
// Without checkpoints the sink writes directly (at-least-once).
func WriteAhead(sinkID string) Option {
	return func(c *config) { c.writeAhead, c.sinkID = true, sinkID }
}

// CommitTable sets the keyspace and name prefix of the commit tables of
// the write-ahead mode (default the sink's keyspace, "sluice_commits"):
// <name> holds the last checkpoint committed per sink and subtask,
// <name>_chunks and <name>_counts the batches of a commit in progress.
func CommitTable(keyspace, name string) Option {
	return func(c *config) { c.commitKeyspace, c.commitTable = keyspace, name }
}

// CommitChunk sets how many rows go into one batch of a write-ahead
// commit, with its progress marker (default 32, 1 to 1000). Smaller
// chunks bound the rows a failure inside Cassandra can leave ambiguous;
// larger ones commit faster.
func CommitChunk(n int) Option { return func(c *config) { c.commitChunk = n } }

// CreateCommitTables sets whether the write-ahead sink creates its
// commit table (CREATE TABLE IF NOT EXISTS, by subtask 0, when it is
// missing) when it starts (default true). Turn it off where the sink's user may not create tables, and
// create them as the package documentation shows.
func CreateCommitTables(on bool) Option { return func(c *config) { c.createCommit = on } }

// MarkerTTL sets the time to live of the progress markers of logged
// batches in the commit table (default 7 days), a bound on what a job that
// is never restored leaves behind; the markers of a commit are deleted when
// it finishes anyway.
func MarkerTTL(d time.Duration) Option { return func(c *config) { c.markerTTL = d } }

// ClusterConfig lets fn change the driver's configuration after the
// sink's options are applied (compressor, reconnection policy, ...).
func ClusterConfig(fn func(*gocql.ClusterConfig)) Option {
	return func(c *config) { c.cluster = append(c.cluster, fn) }
}

func (c *config) check() error {
	var errs []string
	if len(c.hosts) == 0 {
		errs = append(errs, "no hosts: give the contact points with cassandra.Hosts (YAML hosts:)")
	}
	if c.maxInFlight < 1 {
		errs = append(errs, fmt.Sprintf("MaxInFlight %d must be at least 1", c.maxInFlight))
	}
	if c.retries < 0 {
		errs = append(errs, fmt.Sprintf("Retries %d is negative", c.retries))
	}
	if c.backoff <= 0 || c.maxBackoff < c.backoff {
		errs = append(errs, fmt.Sprintf("RetryBackoff %v, %v: the first wait must be positive and not above the cap", c.backoff, c.maxBackoff))
	}
	if c.timeout <= 0 || c.connectTimeout <= 0 {
		errs = append(errs, "Timeout and ConnectTimeout must be positive")
	}
	if c.writeAhead {
		if c.sinkID == "" {
			errs = append(errs, "WriteAhead needs a sink id (unique among the jobs writing to the cluster, the same across restores)")
		}
		if c.commitChunk < 1 || c.commitChunk > 1000 {
			errs = append(errs, fmt.Sprintf("CommitChunk %d must be between 1 and 1000", c.commitChunk))
		}
		if c.commitTable == "" || !validName(c.commitTable) {
			errs = append(errs, fmt.Sprintf("commit table %q must be a CQL name (letters, digits, _)", c.commitTable))
		}
		if c.commitKeyspace != "" && !validName(c.commitKeyspace) {
			errs = append(errs, fmt.Sprintf("commit keyspace %q must be a CQL name (letters, digits, _)", c.commitKeyspace))
		}
		if c.markerTTL < time.Second {
			errs = append(errs, fmt.Sprintf("MarkerTTL %v must be at least 1s", c.markerTTL))
		}
	}
	for _, e := range c.errs {
		errs = append(errs, e.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 48 {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// clusterConfig returns the driver's configuration.
func (c *config) clusterConfig() *gocql.ClusterConfig {
	cc := gocql.NewCluster(c.hosts...)
	cc.Port = DefaultPort
	cc.Consistency = c.consistency
	cc.ProtoVersion = 4
	cc.Timeout = c.timeout
	cc.WriteTimeout = c.timeout
	cc.ConnectTimeout = c.connectTimeout
	// The sink retries by itself, with backoff and a bound, and only what
	// may be retried; the driver's retries would hide attempts from it.
	cc.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: 0}
	// Reconnect to a node that went down at a steady pace; a write that
	// finds no connection is retried by the sink.
	cc.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 3, Interval: time.Second}
	if c.localDC != "" {
		cc.PoolConfig.HostSelectionPolicy = gocql.DCAwareRoundRobinPolicy(c.localDC)
	}
	if c.username != "" {
		cc.Authenticator = gocql.PasswordAuthenticator{Username: c.username, Password: string(c.password())}
	}
	if c.tls != nil {
		cc.SslOpts = &gocql.SslOptions{Config: c.tls.Clone(), EnableHostVerification: !c.tls.InsecureSkipVerify}
	}
	cc.Logger = quietLogger{}
	for _, fn := range c.cluster {
		fn(cc)
	}
	return cc
}

// quietLogger drops the driver's own log lines (which may name hosts
// and retry chatter); the sink reports what matters through its errors and
// the job's logger.
type quietLogger struct{}

func (quietLogger) Print(...any)          {}
func (quietLogger) Printf(string, ...any) {}
func (quietLogger) Println(...any)        {}
