package pubsub

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/api/option/internaloption"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Option configures what sources and sinks share: the project and how to
// reach and authenticate to Pub/Sub.
type Option interface {
	SourceOption
	SinkOption
}

// SourceOption configures a Source.
type SourceOption interface{ applySource(*sourceConfig) }

// SinkOption configures a Sink.
type SinkOption interface{ applySink(*sinkConfig) }

// EmulatorHostEnv is the environment variable naming the endpoint of a
// Pub/Sub emulator (host:port), as Google's client libraries read it.
const EmulatorHostEnv = "PUBSUB_EMULATOR_HOST"

// connConfig is the connection part of both configurations.
type connConfig struct {
	project   string
	endpoint  string
	credsFile string
	client    []option.ClientOption
}

type connOpt func(*connConfig)

func (o connOpt) applySource(c *sourceConfig) { o(&c.conn) }
func (o connOpt) applySink(c *sinkConfig)     { o(&c.conn) }

// Project sets the Google Cloud project that owns the subscription or
// topic. Required (a full resource name given to Subscription or Topic
// names its project itself, which must then agree).
func Project(id string) Option {
	return connOpt(func(c *connConfig) { c.project = id })
}

// Endpoint connects to a Pub/Sub emulator (or another plaintext
// implementation of the API, such as pstest) at host:port, without TLS and
// without credentials. Default: the environment variable
// PUBSUB_EMULATOR_HOST when it is set, else Google's service with
// application default credentials.
func Endpoint(hostPort string) Option {
	return connOpt(func(c *connConfig) { c.endpoint = hostPort })
}

// CredentialsFile authenticates with the service account key file at path
// instead of application default credentials (GOOGLE_APPLICATION_CREDENTIALS,
// the gcloud user's credentials, or the metadata server on Google Cloud).
// Other kinds of credentials go through ClientOptions.
func CredentialsFile(path string) Option {
	return connOpt(func(c *connConfig) { c.credsFile = path })
}

// ClientOptions adds options of Google's API clients (a regional service
// endpoint, other credentials, a gRPC connection pool) to every client the
// connector creates. They apply after the connector's own.
func ClientOptions(opts ...option.ClientOption) Option {
	return connOpt(func(c *connConfig) { c.client = append(c.client, opts...) })
}

// emulator returns the endpoint of the emulator to use, or "".
func (c *connConfig) emulator() string {
	if c.endpoint != "" {
		return c.endpoint
	}
	return os.Getenv(EmulatorHostEnv)
}

// clientOptions are the options of every API client the connector
// creates.
func (c *connConfig) clientOptions() []option.ClientOption {
	var o []option.ClientOption
	if ep := c.emulator(); ep != "" {
		o = append(o,
			option.WithEndpoint(ep),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithoutAuthentication(),
			option.WithTelemetryDisabled(),
			internaloption.SkipDialSettingsValidation(),
		)
	} else if c.credsFile != "" {
		o = append(o, option.WithAuthCredentialsFile(option.ServiceAccount, c.credsFile))
	}
	return append(o, c.client...)
}

// where describes how the connector reaches Pub/Sub, for messages (never
// a secret: the credentials file is named, not read).
func (c *connConfig) where() string {
	switch {
	case c.endpoint != "":
		return "emulator " + c.endpoint
	case os.Getenv(EmulatorHostEnv) != "":
		return "emulator " + os.Getenv(EmulatorHostEnv) + " (" + EmulatorHostEnv + ")"
	case c.credsFile != "":
		return "Google Cloud, credentials " + c.credsFile
	}
	return "Google Cloud, application default credentials"
}

// resourceName returns the full name of a subscription or topic (kind
// "subscriptions" or "topics") given by id or full name, checked against
// the project.
func (c *connConfig) resourceName(kind, name string) (string, error) {
	if name == "" {
		return "", errors.New("missing name")
	}
	if strings.HasPrefix(name, "projects/") {
		parts := strings.Split(name, "/")
		if len(parts) != 4 || parts[2] != kind || parts[1] == "" || parts[3] == "" {
			return "", fmt.Errorf("%q is not a %s name: use projects/<project>/%s/<id> or the id alone", name, strings.TrimSuffix(kind, "s"), kind)
		}
		if c.project != "" && parts[1] != c.project {
			return "", fmt.Errorf("%q belongs to project %q, not %q", name, parts[1], c.project)
		}
		if c.project == "" {
			c.project = parts[1]
		}
		return name, nil
	}
	if strings.Contains(name, "/") {
		return "", fmt.Errorf("%q is not a %s id: ids have no '/'", name, strings.TrimSuffix(kind, "s"))
	}
	if c.project == "" {
		return "", errors.New("no project: use pubsub.Project or a full name projects/<project>/" + kind + "/<id>")
	}
	return "projects/" + c.project + "/" + kind + "/" + name, nil
}

type sourceOpt func(*sourceConfig)

func (o sourceOpt) applySource(c *sourceConfig) { o(c) }

type sinkOpt func(*sinkConfig)

func (o sinkOpt) applySink(c *sinkConfig) { o(c) }

// Defaults of the source's options.
const (
	DefaultMaxOutstandingMessages = 10000
	DefaultMaxOutstandingBytes    = 64 << 20
	DefaultAckDeadline            = 30 * time.Second
	DefaultMaxExtension           = 60 * time.Minute
	DefaultMaxPullMessages        = 500
	DefaultMaxPollRecords         = 500
)
