package redis

import (
	"crypto/tls"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/connector"
)

// Mode says how the sink reaches Redis.
type Mode string

// The modes.
const (
	// Standalone: one server (redis://, rediss://, unix:// URLs).
	Standalone Mode = "standalone"
	// Sentinel: a master found through Sentinels; the URL names a
	// Sentinel and the master: redis://sentinel:26379?master_name=mymaster
	// (more Sentinels with &addr=host:port).
	Sentinel Mode = "sentinel"
	// Cluster: Redis Cluster; the URL names one node, more with
	// &addr=host:port.
	Cluster Mode = "cluster"
)

// Defaults of the options.
const (
	// DefaultURL is the server of a sink without URL.
	DefaultURL = "redis://127.0.0.1:6379/0"
	// DefaultBatchSize is the default of BatchSize.
	DefaultBatchSize = 1000
	// DefaultMaxTransactionCommands is the default of
	// MaxTransactionCommands.
	DefaultMaxTransactionCommands = 1000
	// DefaultMaxTransactionBytes is the default of MaxTransactionBytes.
	DefaultMaxTransactionBytes = 4 << 20
	// DefaultMaxPendingBytes is the default of MaxPendingBytes.
	DefaultMaxPendingBytes = 256 << 20
	// DefaultCommitTimeout is the default of CommitTimeout.
	DefaultCommitTimeout = time.Minute
	// DefaultFencePrefix is the default of FencePrefix.
	DefaultFencePrefix = "sluice:fence:"
)

type config struct {
	url        string
	mode       Mode
	universal  *redis.UniversalOptions
	user       string
	password   connector.Secret
	tls        *tls.Config
	ttl        time.Duration
	exactly    bool
	batch      int
	maxTxCmds  int
	maxTxBytes int
	maxPending int
	commitTO   time.Duration
	fenceName  string
	fencePfx   string
	fenceTTL   time.Duration
	errs       []error
}

// Option configures a Sink.
type Option func(*config)

// URL sets the server (default DefaultURL): redis://[user:password@]host:port/db,
// rediss:// for TLS, unix:///path/to/socket?db=N; in Sentinel and Cluster
// mode see Mode. Query parameters set go-redis options (dial_timeout,
// read_timeout, pool_size, max_retries...). The password never appears in
// messages.
func URL(u string) Option { return func(c *config) { c.url = u } }

// WithMode sets how the URL is read (default Standalone).
func WithMode(m Mode) Option { return func(c *config) { c.mode = m } }

// UniversalOptions gives the go-redis client options directly, instead
// of URL and WithMode: a client for Sentinel when MasterName is set, for
// Cluster when IsClusterMode is set or several Addrs are given, else for
// one server. Credentials and TLS given as options apply on top.
func UniversalOptions(o *redis.UniversalOptions) Option {
	return func(c *config) { c.universal = o }
}

// Credentials sets the ACL user and password (default: those of the URL,
// else none); an empty one keeps the URL's. The password never appears in
// messages or logs.
func Credentials(user string, password connector.Secret) Option {
	return func(c *config) { c.user, c.password = user, password }
}

// TLS turns on TLS with cfg (default: on for rediss:// URLs, with the
// system's CA certificates; off otherwise).
func TLS(cfg *tls.Config) Option { return func(c *config) { c.tls = cfg } }

// TTL sets the time to live of what the sink writes (default 0: none):
// SET is sent with PX ttl, EXPIRE sets it, and every other command but
// DEL and PUBLISH is followed by PEXPIRE key ttl. A record's
// Command.TTL overrides it.
func TTL(d time.Duration) Option { return func(c *config) { c.ttl = d } }

// ExactlyOnce makes every command exactly-once (default: at-least-once,
// which is exactly-once for idempotent commands anyway; see Op.Idempotent):
// the commands written between two checkpoints are kept with the
// checkpoint and applied when it completes, in Lua scripts that also record
// the checkpoint in a fence key, so that a commit repeated after a restore
// is skipped. Commands then become visible only when their checkpoint
// completes (on Redis Cluster, slot by slot: see the package
// documentation). Without checkpoints the sink is at-least-once.
func ExactlyOnce() Option { return func(c *config) { c.exactly = true } }

// BatchSize sets how many commands the at-least-once sink sends in one
// pipeline (default DefaultBatchSize). Every barrier sends what is
// buffered and waits for the replies.
func BatchSize(n int) Option { return func(c *config) { c.batch = n } }

// MaxTransactionCommands bounds the commands of one Lua script of the
// exactly-once sink (default DefaultMaxTransactionCommands). A
// checkpoint's commands are applied in chunks of at most this many, each
// chunk atomic and fenced by (checkpoint, chunk, command): a failure
// between chunks leaves the checkpoint partly applied until the restored
// job applies the rest. A script blocks the server while it runs.
func MaxTransactionCommands(n int) Option { return func(c *config) { c.maxTxCmds = n } }

// MaxTransactionBytes bounds the argument bytes of one Lua script of the
// exactly-once sink (default DefaultMaxTransactionBytes, 4 MiB).
func MaxTransactionBytes(n int) Option { return func(c *config) { c.maxTxBytes = n } }

// MaxPendingBytes bounds the commands the exactly-once sink holds for
// one checkpoint, in memory and in the checkpoint (default
// DefaultMaxPendingBytes, 256 MiB). More fails the job: shorten the
// checkpoint interval or raise the bound.
func MaxPendingBytes(n int) Option { return func(c *config) { c.maxPending = n } }

// CommitTimeout bounds how long the exactly-once sink retries a commit
// that fails transiently (default DefaultCommitTimeout); then the job
// fails, and the restored job commits again.
func CommitTimeout(d time.Duration) Option { return func(c *config) { c.commitTO = d } }

// FenceName names the sink in its fence keys (default "sink"); YAML
// pipelines use "<job>:<sink id>". The fence keys of the exactly-once sink
// are <FencePrefix><name>:<token>, one hash per writer lineage (see the
// package documentation).
func FenceName(name string) Option { return func(c *config) { c.fenceName = name } }

// FencePrefix sets the prefix of fence keys (default DefaultFencePrefix).
func FencePrefix(p string) Option { return func(c *config) { c.fencePfx = p } }

// FenceTTL makes fence keys expire after d without commits (default 0:
// they never expire). A fence must outlive every restore of a checkpoint
// whose commands it covers: keep it above the longest a job may stay down
// plus the age of the oldest checkpoint or savepoint you may restore. A
// restore after its fence expired applies that checkpoint's commands
// again.
func FenceTTL(d time.Duration) Option { return func(c *config) { c.fenceTTL = d } }
