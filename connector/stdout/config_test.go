package stdout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// buildContext is a connector.BuildContext writing to out, encoding
// records as JSON (failing on a record with a "bad" field).
type buildContext struct{ out io.Writer }

func (buildContext) Name() string                                  { return "stdout" }
func (buildContext) ID() string                                    { return "sink" }
func (buildContext) Job() string                                   { return "job" }
func (buildContext) Logger() *slog.Logger                          { return slog.New(slog.DiscardHandler) }
func (buildContext) Checkpoints() (time.Duration, time.Duration)   { return 0, 0 }
func (c buildContext) Stdout() io.Writer                           { return c.out }
func (buildContext) DecodeRecord([]byte) (connector.Record, error) { return nil, errors.New("a sink") }
func (buildContext) EncodeRecord(r connector.Record) ([]byte, error) {
	if _, bad := r["bad"]; bad {
		return nil, errors.New("cannot encode")
	}
	return json.Marshal(r)
}

func TestConfig(t *testing.T) {
	typ, ok := connector.LookupSink("stdout")
	if !ok || len(typ.Formats) != 1 || typ.Formats[0] != "json" {
		t.Fatalf("stdout is not registered with format json: %+v", typ)
	}
	cfg := typ.Config()
	for _, cp := range []bool{false, true} {
		if got, want := cfg.Declare(cp), (&Sink[int]{}).Declare(cp); got != want {
			t.Errorf("Declare(%v) = %+v, want %+v", cp, got, want)
		}
	}
	var out bytes.Buffer
	snk, err := cfg.NewSink(buildContext{&out})
	if err != nil {
		t.Fatal(err)
	}
	w, err := snk.NewWriter(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range []connector.Record{{"n": 1}, {"bad": true}} {
		if err := w.Write(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if want := "{\"n\":1}\nmap[bad:true]\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}
