package connector

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

type nopSourceConfig struct{}

func (nopSourceConfig) Declare(bool) Declaration { return Declaration{Guarantee: AtMostOnce} }
func (nopSourceConfig) NewSource(BuildContext) (Source[Record], error) {
	return nil, errors.New("not built")
}

type nopSinkConfig struct{}

func (nopSinkConfig) Declare(bool) Declaration                   { return Declaration{Guarantee: AtLeastOnce} }
func (nopSinkConfig) NewSink(BuildContext) (Sink[Record], error) { return nil, errors.New("not built") }

func TestRegisterTypes(t *testing.T) {
	src := func() SourceConfig { return nopSourceConfig{} }
	snk := func() SinkConfig { return nopSinkConfig{} }
	RegisterSource(SourceType{Name: "zz-test", Config: src})
	RegisterSource(SourceType{Name: "aa-test", Formats: []string{"json"}, Config: src})
	RegisterSink(SinkType{Name: "zz-test", Config: snk,
		Docs: Info{System: "test", Cases: []Case{{Guarantee: AtLeastOnce, When: "always"}}}})

	docs := 0
	for _, in := range Registered() {
		switch {
		case in.Name == "zz-test" && in.Role == "sink" && in.System == "test":
			docs++
		case in.Name == "zz-test" || in.Name == "aa-test":
			t.Errorf("docs row of a type registered without Docs: %+v", in)
		}
	}
	if docs != 1 {
		t.Errorf("%d docs rows of sink zz-test, want 1", docs)
	}

	if names := SourceTypeNames(); !slices.IsSorted(names) || !slices.Contains(names, "aa-test") || !slices.Contains(names, "zz-test") {
		t.Errorf("SourceTypeNames = %v", names)
	}
	if names := SinkTypeNames(); !slices.Contains(names, "zz-test") || slices.Contains(names, "aa-test") {
		t.Errorf("SinkTypeNames = %v", names)
	}
	if st, ok := LookupSource("aa-test"); !ok || st.Formats[0] != "json" {
		t.Errorf("LookupSource = %+v, %v", st, ok)
	}
	if _, ok := LookupSink("aa-test"); ok {
		t.Error("LookupSink found a source")
	}

	panics := []struct {
		name string
		fn   func()
		want string
	}{
		{"duplicate source", func() { RegisterSource(SourceType{Name: "zz-test", Config: src}) }, "registered twice"},
		{"duplicate sink", func() { RegisterSink(SinkType{Name: "zz-test", Config: snk}) }, "registered twice"},
		{"source without config", func() { RegisterSource(SourceType{Name: "x-test"}) }, "without a name or Config"},
		{"sink without name", func() { RegisterSink(SinkType{Config: snk}) }, "without a name or Config"},
	}
	for _, p := range panics {
		t.Run(p.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), p.want) {
					t.Errorf("recovered %v, want a panic containing %q", r, p.want)
				}
			}()
			p.fn()
		})
	}
}

func TestExprAndSecret(t *testing.T) {
	var zero Expr
	if zero.IsSet() {
		t.Error("the zero Expr is set")
	}
	if _, err := zero.Eval(Record{}); err == nil {
		t.Error("the zero Expr evaluates")
	}
	e := NewExpr("user", func(r Record) (any, error) { return r["user"], nil })
	if v, err := e.Eval(Record{"user": "ann"}); !e.IsSet() || err != nil || v != "ann" {
		t.Errorf("Eval = %v, %v", v, err)
	}
	s := struct{ Password Secret }{"hunter2"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(format, s); strings.Contains(out, "hunter2") {
			t.Errorf("%s shows the secret: %s", format, out)
		}
	}
}
