package kinesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/connector"
)

// API is the part of the Kinesis Data Streams API the connector uses;
// *kinesis.Client implements it. Tests (and programs with a client of
// their own) pass one with the Client option.
type API interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, opts ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// connConfig is what sources and sinks share: how to reach the service.
type connConfig struct {
	stream   string
	region   string
	endpoint string
	profile  string
	keyID    string
	secret   connector.Secret
	session  connector.Secret
	api      API
	errs     []error
}

// client returns the API: the one given with Client, or an SDK client
// configured the AWS way (environment, shared config and credentials
// files, profile, instance or container roles), with Region, Endpoint,
// Profile and StaticCredentials applied on top.
func (c *connConfig) client(ctx context.Context) (API, error) {
	if c.api != nil {
		return c.api, nil
	}
	var opts []func(*config.LoadOptions) error
	if c.region != "" {
		opts = append(opts, config.WithRegion(c.region))
	}
	if c.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.profile))
	}
	if c.keyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.keyID, string(c.secret), string(c.session))))
	}
	// The SDK retries network errors and 5xx a few times; throttling is
	// the connector's to handle (backoff, AIMD), so the SDK's retry
	// quota, which fails requests once exhausted, is off.
	opts = append(opts, config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.RateLimiter = ratelimit.None
			o.MaxAttempts = 3
		})
	}))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, connector.Permanent(fmt.Errorf("%w: AWS configuration (profile %q): %v", connector.ErrConfig, c.profile, err))
	}
	if cfg.Region == "" {
		return nil, connector.Permanent(fmt.Errorf("%w: no AWS region: set region (YAML), kinesis.Region, or AWS_REGION", connector.ErrConfig))
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if c.endpoint != "" {
			o.BaseEndpoint = aws.String(c.endpoint)
		}
	}), nil
}

// where names the stream for messages: stream, region and endpoint.
func (c *connConfig) where() string {
	s := fmt.Sprintf("stream %q", c.stream)
	if c.region != "" {
		s += " in " + c.region
	}
	if c.endpoint != "" {
		s += " at " + c.endpoint
	}
	return s
}

// errKind classifies an error of the service.
type errKind uint8

const (
	errTransient errKind = iota // network, 5xx: retry, or restart the job
	errThrottled                // throughput or rate limits: back off
	errExpired                  // expired shard iterator: get a new one
	errNotFound                 // stream (or shard) does not exist
	errAuth                     // credentials missing or refused
	errInvalid                  // the service calls the request invalid
)

func classify(err error) errKind {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "LimitExceededException", "KMSThrottlingException",
			"ThrottlingException", "Throttling", "RequestLimitExceeded", "SlowDown":
			return errThrottled
		case "ExpiredIteratorException":
			return errExpired
		case "ResourceNotFoundException":
			return errNotFound
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
			"ExpiredTokenException", "IncompleteSignature", "IncompleteSignatureException", "MissingAuthenticationToken",
			"KMSAccessDeniedException", "KMSDisabledException", "KMSNotFoundException", "KMSInvalidStateException":
			return errAuth
		case "InvalidArgumentException", "ValidationException":
			return errInvalid
		}
		return errTransient
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return errTransient
	}
	// The SDK reports credentials it could not retrieve before sending.
	if strings.Contains(err.Error(), "retrieve credentials") || strings.Contains(err.Error(), "get identity") {
		return errAuth
	}
	return errTransient
}

// fatal returns err as a permanent error naming what to change, or nil
// when a retry may help.
func (c *connConfig) fatal(role string, err error) error {
	switch classify(err) {
	case errNotFound:
		return connector.Permanent(fmt.Errorf("kinesis %s: %s: %w: it does not exist: create it, or correct stream, region or endpoint (%v)", role, c.where(), connector.ErrRejected, err))
	case errAuth:
		return connector.Permanent(fmt.Errorf("kinesis %s: %s: %w: credentials missing or refused: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the role's permissions on the stream (%v)", role, c.where(), connector.ErrRejected, err))
	case errInvalid:
		return connector.Permanent(fmt.Errorf("kinesis %s: %s: %w: the service refused the request as invalid (%v)", role, c.where(), connector.ErrRejected, err))
	}
	return nil
}

// backoff is an exponential backoff with full jitter.
type backoff struct {
	base, max time.Duration
	n         int
}

func (b *backoff) next() time.Duration {
	d := b.base << min(b.n, 16)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.n++
	return d/2 + rand.N(d/2+1)
}

func (b *backoff) reset() { b.n = 0 }

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
