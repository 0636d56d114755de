package pubsub

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	_ "github.com/sluicehq/sluice/connector/file"
	_ "github.com/sluicehq/sluice/connector/stdout"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/stream"
)

func env(vars map[string]string) pipeline.LoadOption {
	return pipeline.WithEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
}

// TestExampleBuilds: examples/pubsub.yaml loads and builds, and is
// exactly-once with checkpoints.
func TestExampleBuilds(t *testing.T) {
	dir := t.TempDir()
	p, err := pipeline.Load("../../examples/pubsub.yaml", env(map[string]string{
		"PUBSUB_PROJECT": "demo", "PUBSUB_SUBSCRIPTION": "orders",
		"OUTPUT": filepath.Join(dir, "out"), "CHECKPOINTS": filepath.Join(dir, "ck")}))
	if err != nil {
		t.Fatal(err)
	}
	e, err := pipeline.Build(p, pipeline.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if g := e.Guarantee(); g.Guarantee != connector.ExactlyOnce {
		t.Errorf("guarantee:\n%s", g)
	}
}

// TestYAMLOptions: mistakes of the YAML options are reported with their
// key; good configurations build, with the guarantee they declare (the
// file sink is exactly-once, so the job's guarantee is the source's when
// the pubsub sink is not under test).
func TestYAMLOptions(t *testing.T) {
	cases := []struct {
		name      string
		src, sink string
		wantErr   string
		want      string // the job's guarantee
	}{
		{name: "defaults", want: "at-least-once"},
		{name: "dedupe", src: "  dedupe_by_id: true", want: "exactly-once"},
		{name: "horizon without dedupe", src: "  dedupe_horizon: 3h", wantErr: "dedupe_horizon goes with dedupe_by_id"},
		{name: "short horizon", src: "  dedupe_by_id: true\n  dedupe_horizon: 10m", wantErr: "shorter than max_extension"},
		{name: "extension below deadline", src: "  ack_deadline: 60s\n  max_extension: 30s", wantErr: "shorter than ack_deadline"},
		{name: "ack on receipt", src: "  ack_on_receipt: true", want: "at-most-once"},
		{name: "extension shorter than checkpoints", src: "  max_extension: 5m", wantErr: "max extension 5m0s is shorter than checkpoint interval 1s + checkpoint timeout 10m0s = 10m1s"},
		{name: "ack on receipt with dedupe", src: "  ack_on_receipt: true\n  dedupe_by_id: true", wantErr: "nothing to deduplicate"},
		{name: "fractional deadline", src: "  ack_deadline: 1500ms", wantErr: "not whole seconds"},
		{name: "bad format", src: "  format: csv", wantErr: "format"},
		{name: "unknown key", src: "  subscriptions: x", wantErr: "subscriptions"},
		{name: "text", src: "  format: text\n  max_outstanding_messages: 5\n  end_when_idle: 1s", want: "at-least-once"},
		{name: "sink", sink: "  type: pubsub\n  project: p\n  topic: t\n  ordering_key: key\n  attributes: [region]", want: "at-least-once"},
		{name: "sink without topic", sink: "  type: pubsub\n  project: p", wantErr: "topic"},
		{name: "sink bad ordering key", sink: "  type: pubsub\n  project: p\n  topic: t\n  ordering_key: 'nope('", wantErr: "ordering_key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sink := c.sink
			if sink == "" {
				sink = "  type: file\n  path: " + filepath.Join(dir, "out")
			}
			doc := "name: t\nsource:\n  type: pubsub\n  project: p\n  subscription: s\n" + c.src + "\nsink:\n" + sink +
				"\ncheckpoints:\n  interval: 1s\n  storage: " + filepath.Join(dir, "ck") + "\n"
			p, err := pipeline.Parse("job.yaml", []byte(doc))
			var g string
			if err == nil {
				var e *stream.Env
				if e, err = pipeline.Build(p, pipeline.Overrides{}); err == nil {
					g = e.Guarantee().Guarantee.String()
				}
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error containing %q\n%s", err, c.wantErr, doc)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, doc)
			}
			if g != c.want {
				t.Errorf("guarantee %s, want %s", g, c.want)
			}
		})
	}
}

// TestDeclarations: the guarantee of each configuration.
func TestDeclarations(t *testing.T) {
	for _, c := range []struct {
		cfg  SourceConfig
		cp   bool
		want connector.Guarantee
		why  string
	}{
		{SourceConfig{Project: "p", Subscription: "s"}, true, connector.AtLeastOnce, "acknowledged only after the checkpoint"},
		{SourceConfig{Project: "p", Subscription: "s"}, false, connector.AtMostOnce, "no checkpoints"},
		{SourceConfig{Project: "p", Subscription: "s", DedupeByID: true}, true, connector.ExactlyOnce, "deduplication stage on the message id"},
		{SourceConfig{Project: "p", Subscription: "s", DedupeByID: true}, false, connector.AtMostOnce, "no checkpoints"},
		{SourceConfig{Project: "p", Subscription: "s", AckOnReceipt: true}, true, connector.AtMostOnce, "on receipt"},
		{SourceConfig{Project: "p", Subscription: "s", MaxExtension: time.Minute}, true, connector.AtMostOnce, "max extension 1m0s is shorter than checkpoint interval"},
	} {
		d := c.cfg.Declare(c.cp)
		if d.Guarantee != c.want || !strings.Contains(d.Reason, c.why) {
			t.Errorf("%+v with checkpoints %v: %v (%s); want %v, reason with %q", c.cfg, c.cp, d.Guarantee, d.Reason, c.want, c.why)
		}
	}
	if f, h, ok := (&SourceConfig{DedupeByID: true, DedupeHorizon: 3 * time.Hour}).DedupeBy(); !ok || f != DedupeField || h != 3*time.Hour {
		t.Errorf("DedupeBy = %q %v %v", f, h, ok)
	}
}

// TestOptionChecks: NewSource and NewSink refuse what cannot work, as
// configuration errors.
func TestOptionChecks(t *testing.T) {
	base := []SourceOption{Project("p"), Subscription("s")}
	for _, c := range []struct {
		opts []SourceOption
		want string
	}{
		{[]SourceOption{Subscription("s")}, "no project"},
		{[]SourceOption{Project("p")}, "no subscription"},
		{[]SourceOption{Project("p"), Subscription("projects/q/subscriptions/s")}, `belongs to project "q"`},
		{[]SourceOption{Subscription("projects/q/topics/s")}, "is not a subscription name"},
		{append(base, AckDeadline(500*time.Millisecond)), "whole seconds"},
		{append(base, ExpectCheckpoints(time.Hour, 10*time.Minute)), "max extension 1h0m0s is shorter than checkpoint interval 1h0m0s + checkpoint timeout 10m0s = 1h10m0s"},
		{append(base, MaxOutstandingMessages(0)), "MaxOutstandingMessages 0"},
	} {
		_, err := NewSource(String(), c.opts...)
		if !errors.Is(err, connector.ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want a configuration error containing %q", err, c.want)
		}
	}
	if _, err := NewSource(String(), append(base, ExpectCheckpoints(time.Hour, 10*time.Minute), MaxExtension(2*time.Hour))...); err != nil {
		t.Error(err)
	}
	if _, err := NewSource(String(), append(base, ExpectCheckpoints(time.Hour, 10*time.Minute), AckOnReceipt())...); err != nil {
		t.Errorf("AckOnReceipt holds nothing, so the extension does not matter: %v", err)
	}
	if _, err := NewSink(StringSerializer(), Project("p")); !errors.Is(err, connector.ErrConfig) || !strings.Contains(err.Error(), "no topic") {
		t.Errorf("sink without topic: %v", err)
	}
	if src, _ := NewSource(String(), append(base, Subscription("projects/p/subscriptions/full"))...); src == nil || src.cfg.subName != "projects/p/subscriptions/full" {
		t.Errorf("full name not kept")
	}
}

// TestSecretsNotShown: the credentials file is named in messages, never
// read into them.
func TestWhere(t *testing.T) {
	t.Setenv(EmulatorHostEnv, "")
	c := connConfig{credsFile: "/etc/key.json"}
	if w := c.where(); w != "Google Cloud, credentials /etc/key.json" {
		t.Errorf("where = %q", w)
	}
	t.Setenv(EmulatorHostEnv, "localhost:1")
	if w := (&connConfig{}).where(); !strings.Contains(w, "localhost:1") {
		t.Errorf("where = %q", w)
	}
}
