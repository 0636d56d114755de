package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/connector"
)

// classify turns an error of Redis into the sink's error: permanent when
// the server refuses the command for a reason a retry cannot fix
// (WRONGTYPE, NOAUTH/WRONGPASS, NOPERM, OOM, other ERR replies),
// transient otherwise (network, timeouts, READONLY during a failover,
// LOADING, BUSY, CLUSTERDOWN, TRYAGAIN). cmd is the command (its first
// two words are named: command and key, never values); where names the
// server.
func classify(err error, cmd []string, where string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	what := describe(cmd)
	msg := err.Error()
	if e := tlsRefusal(err); e != "" {
		return fmt.Errorf("redis sink: %s: %w: %s (%v)", where, connector.ErrRejected, e, err)
	}
	var rerr redis.Error
	prefix, _, _ := strings.Cut(msg, " ")
	if !errors.As(err, &rerr) || !isCode(prefix) {
		// Not an error reply of the server: the network, a timeout, or
		// the client's own (no Sentinel answering, a cluster without
		// reachable nodes).
		return fmt.Errorf("redis sink: %s at %s: %w", what, where, err)
	}
	if prefix == "ERR" && strings.Contains(msg, "can't run this command") {
		// NOPERM as a script sees it (Redis 7.0).
		prefix = "NOPERM"
	}
	switch prefix {
	case "WRONGTYPE":
		return fmt.Errorf("redis sink: %s at %s: %w: the key holds a value of another type (%s); "+
			"delete the key, or choose a key expression that names keys of the type the command needs", what, where, connector.ErrRejected, msg)
	case "NOAUTH", "WRONGPASS":
		return fmt.Errorf("redis sink: %s: %w: authentication refused (%s); "+
			"check the user and password (in the url, or password: / REDIS_PASSWORD)", where, connector.ErrRejected, prefix)
	case "NOPERM":
		return fmt.Errorf("redis sink: %s at %s: %w: the user may not run it (NOPERM; %s); "+
			"grant the command and keys to the user (ACL SETUSER <user> +<command> ~<pattern>), or use another user", what, where, connector.ErrRejected, msg)
	case "OOM":
		return fmt.Errorf("redis sink: %s at %s: %w: the server is out of memory (%s); "+
			"raise maxmemory, set an eviction policy, or give the keys a ttl", what, where, connector.ErrRejected, msg)
	case "READONLY", "LOADING", "MASTERDOWN", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK", "NOREPLICAS":
		return fmt.Errorf("redis sink: %s at %s: %w", what, where, err)
	case "NOSCRIPT":
		return fmt.Errorf("redis sink: %s at %s: %w", what, where, err)
	}
	return fmt.Errorf("redis sink: %s at %s: %w: %s; check the command's configuration (key, field, value, score, member)", what, where, connector.ErrRejected, msg)
}

// isCode reports whether s is an error code of a Redis reply (ERR,
// WRONGTYPE...).
func isCode(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && r != '_' {
			return false
		}
	}
	return true
}

// tlsRefusal says what to change when err is a TLS failure that a retry
// cannot fix; "" otherwise.
func tlsRefusal(err error) string {
	var (
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		verify  *tls.CertificateVerificationError
		notTLS  tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown), errors.As(err, &verify) && errors.As(verify.Err, &unknown):
		return "the server's TLS certificate is signed by an authority the sink does not trust; give its CA certificate (tls.ca_file, or redis.TLS with RootCAs)"
	case errors.As(err, &host):
		return "the server's TLS certificate is not for this host name; connect by a name the certificate holds, or set tls.server_name"
	case errors.As(err, &invalid):
		return "the server's TLS certificate is not valid (expired, or not for server use); renew it"
	case errors.As(err, &verify):
		return "the server's TLS certificate was refused; check tls.ca_file and tls.server_name"
	case errors.As(err, &notTLS):
		return "the server does not speak TLS at this address; use a redis:// URL without tls, or the server's TLS port"
	}
	return ""
}

// describe names a command by its name and key.
func describe(cmd []string) string {
	switch len(cmd) {
	case 0:
		return "connection"
	case 1:
		return cmd[0]
	}
	return fmt.Sprintf("%s %q", cmd[0], truncate(cmd[1], 200))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
