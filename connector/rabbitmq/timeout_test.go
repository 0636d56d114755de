package rabbitmq

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// rabbitEnv sets an application variable of the broker (rabbitmqctl eval)
// and returns its previous value as an Erlang term ("" when unset).
func rabbitEnv(t testing.TB, key, value string) string {
	t.Helper()
	out, err := exec.Command("rabbitmqctl", "eval",
		"Old = application:get_env(rabbit, "+key+"), application:set_env(rabbit, "+key+", "+value+"), Old.").CombinedOutput()
	if err != nil {
		t.Skipf("cannot change the broker's %s with rabbitmqctl eval: %v: %s", key, err, out)
	}
	s := strings.TrimSpace(string(out))
	if v, ok := strings.CutPrefix(s, "{ok,"); ok {
		return strings.TrimSuffix(v, "}")
	}
	return ""
}

func unsetRabbitEnv(t testing.TB, key, old string) {
	expr := "application:unset_env(rabbit, " + key + ")."
	if old != "" {
		expr = "application:set_env(rabbit, " + key + ", " + old + ")."
	}
	if out, err := exec.Command("rabbitmqctl", "eval", expr).CombinedOutput(); err != nil {
		t.Errorf("restore the broker's %s: %v: %s", key, err, out)
	}
}

// TestConsumerTimeout: when the broker closes the channel because
// acknowledgements were held longer than its consumer_timeout, the reader
// fails with a message naming the setting and the checkpoint interval,
// permanently when the interval alone exceeds the timeout.
//
// RabbitMQ 3.10 (this machine's) has consumer_timeout only as a node-wide
// setting (x-consumer-timeout and the consumer-timeout policy came with
// 3.12), read when a channel opens and checked every channel tick (60s):
// the test lowers both until the reader's channel is closed, then puts
// them back.
func TestConsumerTimeout(t *testing.T) {
	a := newAdmin(t)
	q := a.queue("ctimeout", "classic", nil)
	a.publish(q, 0, 5)
	oldTimeout := rabbitEnv(t, "consumer_timeout", "1000")
	oldTick := rabbitEnv(t, "channel_tick_interval", "200")
	restored := false
	restore := func() {
		if !restored {
			restored = true
			unsetRabbitEnv(t, "consumer_timeout", oldTimeout)
			unsetRabbitEnv(t, "channel_tick_interval", oldTick)
		}
	}
	t.Cleanup(restore)
	src, err := NewSource(String(), URL(testURL()), Queue(q), ExpectCheckpoints(5*time.Second, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r := startReader(t, src, 1, nil)
	out := &fakeOutput[string]{}
	pollUntil(t, r, out, 5, 10*time.Second) // the channel is open
	// The low settings stay until the channel is closed: a reconnect under
	// load would otherwise open a channel with the default timeout.
	err = pollErr(t, r, out, 60*time.Second)
	restore()
	for _, want := range []string{"consumer_timeout", "checkpoint interval 5s", q, "1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if !connector.IsPermanent(err) {
		t.Errorf("a checkpoint interval longer than the consumer timeout must fail for good: %v", err)
	}
	t.Log(err)
}
