package kafka

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// A sink whose brokers cannot be reached fails the job after the delivery
// timeout, saying why, instead of waiting for ever; the client's own
// warnings reach the job's log.
func TestSinkDeliveryTimeout(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	for _, exactlyOnce := range []bool{false, true} {
		name := "at-least-once"
		if exactlyOnce {
			name = "exactly-once"
		}
		t.Run(name, func(t *testing.T) {
			opts := []SinkOption{Brokers(addr), DeliveryTimeout(time.Second)}
			if exactlyOnce {
				opts = append(opts, ExactlyOnce("delivery-test"), ExpectCheckpoints(100*time.Millisecond, 0))
			}
			snk, err := NewSink(StringSerializer("out"), opts...)
			if err != nil {
				t.Fatal(err)
			}
			var logs sluicetest.Buffer
			// No restarts: an unreachable broker is worth retrying in a
			// real job, but here the first failure is the point.
			envOpts := []stream.Option{stream.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), stream.WithRestart(restart.None())}
			if exactlyOnce {
				envOpts = append(envOpts, stream.WithCheckpointing(100*time.Millisecond, ""))
			}
			env := stream.New("delivery", envOpts...)
			stream.FromSlice(env, []string{"a", "b"}).SinkTo("kafka", snk)
			start := time.Now()
			err = sluicetest.RunErr(env, 30*time.Second)
			if err == nil {
				t.Fatal("the job succeeded with no broker")
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Fatalf("the job took %v to fail: %v", took, err)
			}
			if !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("the error does not say why: %v", err)
			}
			t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
			if !strings.Contains(logs.String(), "kafka client:") {
				t.Errorf("no kafka client warning in the job's log:\n%s", logs.String())
			}
		})
	}
}

// A sink whose topic does not exist fails at once, without restarting, and
// says what to change.
func TestSinkMissingTopic(t *testing.T) {
	_, addr := newCluster(t, 1, "other")
	for _, exactlyOnce := range []bool{false, true} {
		t.Run(fmt.Sprint("exactly-once=", exactlyOnce), func(t *testing.T) {
			opts := []SinkOption{Brokers(addr), DefaultTopic("missing")}
			if exactlyOnce {
				opts = append(opts, ExactlyOnce("missing-test"), ExpectCheckpoints(100*time.Millisecond, 0))
			}
			snk, err := NewSink(StringSerializer(""), opts...)
			if err != nil {
				t.Fatal(err)
			}
			// Unlimited restarts: the failure must end the job by itself.
			env := stream.New("missing", stream.WithLogger(quietLogger()), stream.WithCheckpointing(100*time.Millisecond, ""),
				stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)))
			stream.FromSlice(env, []string{"a", "b"}).SinkTo("kafka", snk)
			err = sluicetest.RunErr(env, 30*time.Second)
			if !errors.Is(err, connector.ErrRejected) || !connector.IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent rejection", err)
			}
			for _, want := range []string{`"missing"`, "does not exist", "create it"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err       error
		permanent bool
	}{
		{kerr.UnknownTopicOrPartition, true},
		{fmt.Errorf("produce: %w", kerr.TopicAuthorizationFailed), true},
		{kerr.MessageTooLarge, true},
		{kerr.NotLeaderForPartition, false},
		{kerr.RequestTimedOut, false},
		{errors.New("dial tcp: connection refused"), false},
	} {
		if got := connector.IsPermanent(classify(tc.err)); got != tc.permanent {
			t.Errorf("classify(%v) permanent = %t, want %t", tc.err, got, tc.permanent)
		}
	}
}
