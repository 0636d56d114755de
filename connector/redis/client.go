package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// clientSpec is the parsed connection configuration. new makes a client
// from a copy of the options (go-redis fills in defaults in the options it
// is given, and writers and committers of several subtasks make clients
// at once).
type clientSpec struct {
	mode  Mode
	where string // the server(s), without credentials
	new   func() redis.UniversalClient
}

// parseClient reads the connection options. It does not connect.
func (c *config) parseClient() (*clientSpec, error) {
	if c.universal != nil {
		o := *c.universal
		if c.user != "" {
			o.Username = c.user
		}
		if c.password != "" {
			o.Password = string(c.password)
		}
		if c.tls != nil {
			o.TLSConfig = c.tls
		}
		mode := Standalone
		switch {
		case o.MasterName != "":
			mode = Sentinel
		case o.IsClusterMode || len(o.Addrs) > 1:
			mode = Cluster
		}
		if len(o.Addrs) == 0 {
			return nil, errors.New("UniversalOptions without Addrs")
		}
		return &clientSpec{mode: mode, where: strings.Join(o.Addrs, ","), new: func() redis.UniversalClient { oc := o; return redis.NewUniversalClient(&oc) }}, nil
	}
	raw := c.url
	if raw == "" {
		raw = DefaultURL
	}
	where := redact(raw)
	creds := func(user, pass *string) {
		if c.user != "" {
			*user = c.user
		}
		if c.password != "" {
			*pass = string(c.password)
		}
	}
	tlsc := func(cur *tls.Config) *tls.Config {
		if c.tls != nil {
			return c.tls
		}
		return cur
	}
	switch c.mode {
	case "", Standalone:
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("url %s: %s", where, cleanParseErr(err))
		}
		creds(&o.Username, &o.Password)
		o.TLSConfig = tlsc(o.TLSConfig)
		return &clientSpec{mode: Standalone, where: where, new: func() redis.UniversalClient { oc := *o; return redis.NewClient(&oc) }}, nil
	case Sentinel:
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, fmt.Errorf("url %s: %s (Sentinel mode: redis://sentinel-host:26379?master_name=<name>)", where, cleanParseErr(err))
		}
		if o.MasterName == "" {
			return nil, fmt.Errorf("url %s: Sentinel mode needs the master's name: add ?master_name=<name>", where)
		}
		// The URL's credentials are the Sentinels'; the master's are the
		// same unless given apart.
		o.Username, o.Password = o.SentinelUsername, o.SentinelPassword
		creds(&o.Username, &o.Password)
		o.TLSConfig = tlsc(o.TLSConfig)
		return &clientSpec{mode: Sentinel, where: where, new: func() redis.UniversalClient { oc := *o; return redis.NewFailoverClient(&oc) }}, nil
	case Cluster:
		o, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, fmt.Errorf("url %s: %s (Cluster mode: redis://node:6379?addr=node2:6379&addr=node3:6379)", where, cleanParseErr(err))
		}
		creds(&o.Username, &o.Password)
		o.TLSConfig = tlsc(o.TLSConfig)
		return &clientSpec{mode: Cluster, where: where, new: func() redis.UniversalClient { oc := *o; return redis.NewClusterClient(&oc) }}, nil
	}
	return nil, fmt.Errorf("mode %q: use standalone, sentinel or cluster", c.mode)
}

// redact returns the URL without its password.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// cleanParseErr returns the message of a URL parse error without the URL
// (which may hold a password).
func cleanParseErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
