package cassandra

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gocql/gocql"

	"github.com/sluicehq/sluice/connector"
)

// Failure classification: what a retry may fix (timeouts, unavailable or
// overloaded coordinators, lost connections) and what it cannot (CQL the
// cluster refuses, a missing keyspace, table or column, refused login or
// permission, a record whose value does not fit its column).

// retryable reports whether err may go away when the write is tried
// again.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if connector.IsPermanent(err) {
		return false
	}
	var re gocql.RequestError
	if errors.As(err, &re) {
		switch re.Code() {
		case gocql.ErrCodeWriteTimeout, gocql.ErrCodeUnavailable, gocql.ErrCodeOverloaded,
			gocql.ErrCodeReadTimeout, gocql.ErrCodeBootstrapping, gocql.ErrCodeWriteFailure,
			gocql.ErrCodeReadFailure, gocql.ErrCodeTruncate, gocql.ErrCodeServer, gocql.ErrCodeUnprepared:
			return true
		}
		return false
	}
	var me gocql.MarshalError
	if errors.As(err, &me) {
		return false
	}
	// Network errors, gocql.ErrTimeoutNoResponse, ErrNoConnections,
	// ErrConnectionClosed, ErrSessionClosed after a reconnect...
	return true
}

// classify marks err, returned for statement cql on table where, as
// permanent when no retry can fix it, with what to change.
func classify(err error, cql, where string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || connector.IsPermanent(err) {
		return err
	}
	var re gocql.RequestError
	if errors.As(err, &re) {
		switch re.Code() {
		case gocql.ErrCodeSyntax:
			return connector.Permanent(fmt.Errorf("cassandra sink %s: the cluster calls the statement %q invalid CQL: %s; fix the statement option", where, cql, re.Message()))
		case gocql.ErrCodeInvalid:
			return fmt.Errorf("cassandra sink %s: %w: the cluster refuses the statement %q: %s; %s", where, connector.ErrRejected, cql, re.Message(), invalidHint(re.Message()))
		case gocql.ErrCodeUnauthorized:
			return fmt.Errorf("cassandra sink %s: %w: permission refused for %q: %s; grant the sink's user MODIFY (and SELECT for the write-ahead commit tables) on the table, or set username:/password_env: to a user that has it", where, connector.ErrRejected, cql, re.Message())
		case gocql.ErrCodeCredentials:
			return fmt.Errorf("cassandra sink %s: %w: login refused: %s; check the username option and the password in password_env", where, connector.ErrRejected, re.Message())
		case gocql.ErrCodeConfig, gocql.ErrCodeAlreadyExists, gocql.ErrCodeProtocol:
			return fmt.Errorf("cassandra sink %s: %w: %q: %s", where, connector.ErrRejected, cql, re.Message())
		}
		return fmt.Errorf("cassandra sink %s: %q: %w", where, cql, err)
	}
	var me gocql.MarshalError
	if errors.As(err, &me) {
		return fmt.Errorf("cassandra sink %s: %w: a record's value does not fit its column: %v; fix the record or the statement's markers", where, connector.ErrBadRecord, err)
	}
	if errors.Is(err, gocql.ErrQueryArgLength) {
		return connector.Permanent(fmt.Errorf("cassandra sink %s: %q: %w: the binder gives another number of values than the statement has markers", where, cql, err))
	}
	return fmt.Errorf("cassandra sink %s: %w", where, err)
}

func invalidHint(msg string) string {
	l := strings.ToLower(msg)
	switch {
	case strings.Contains(l, "keyspace"):
		return "create the keyspace, or set keyspace: (or name keyspace.table in statement:)"
	case strings.Contains(l, "unconfigured table") || strings.Contains(l, "table"):
		return "create the table, or fix the table's name in statement:"
	case strings.Contains(l, "undefined column") || strings.Contains(l, "column"):
		return "fix the column names in statement: or add the columns to the table"
	}
	return "fix statement: or the records' values"
}

// sessionError classifies an error of creating a session (the driver
// reports them as text).
func sessionError(err error, hosts []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	l := strings.ToLower(msg)
	var re gocql.RequestError
	switch {
	case errors.As(err, &re) && re.Code() == gocql.ErrCodeCredentials,
		strings.Contains(l, "password are incorrect"), strings.Contains(l, "authentication"),
		strings.Contains(l, "authenticator"):
		return fmt.Errorf("cassandra sink: connect to %s: %w: login refused (%s); check the username option and the password in password_env", strings.Join(hosts, ","), connector.ErrRejected, redactLogin(msg))
	case strings.Contains(l, "x509") || strings.Contains(l, "tls:"):
		return fmt.Errorf("cassandra sink: connect to %s: %w: TLS handshake failed (%s); check tls: (CA file, server name) against the nodes' certificates", strings.Join(hosts, ","), connector.ErrRejected, msg)
	}
	return fmt.Errorf("cassandra sink: connect to %s: %w", strings.Join(hosts, ","), err)
}

// redactLogin keeps only the part of a login error before any quoted
// credentials (the cluster's message names the user, never the password).
func redactLogin(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
