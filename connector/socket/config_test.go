package socket

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// buildContext is a connector.BuildContext encoding records as JSON.
type buildContext struct{}

func (buildContext) Name() string                                    { return "socket" }
func (buildContext) ID() string                                      { return "sink" }
func (buildContext) Job() string                                     { return "job" }
func (buildContext) Logger() *slog.Logger                            { return slog.New(slog.DiscardHandler) }
func (buildContext) Checkpoints() (time.Duration, time.Duration)     { return 0, 0 }
func (buildContext) Stdout() io.Writer                               { return io.Discard }
func (buildContext) DecodeRecord([]byte) (connector.Record, error)   { return nil, errors.New("a sink") }
func (buildContext) EncodeRecord(r connector.Record) ([]byte, error) { return json.Marshal(r) }

func TestSinkConfig(t *testing.T) {
	typ, ok := connector.LookupSink("socket")
	if !ok || len(typ.Formats) != 1 || typ.Formats[0] != "json" {
		t.Fatalf("socket is not registered with format json: %+v", typ)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		if sc.Scan() {
			lines <- sc.Text()
		}
	}()
	cfg := &SinkConfig{Address: ln.Addr().String()}
	for _, cp := range []bool{false, true} {
		if got, want := cfg.Declare(cp), NewSink[int](cfg.Address, nil).Declare(cp); got != want {
			t.Errorf("Declare(%v) = %+v, want %+v", cp, got, want)
		}
	}
	snk, err := cfg.NewSink(buildContext{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := snk.NewWriter(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Write(ctx, connector.Record{"n": 1}, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-lines:
		if got != `{"n":1}` {
			t.Errorf("line %q", got)
		}
	case <-ctx.Done():
		t.Fatal("no line arrived")
	}
}
