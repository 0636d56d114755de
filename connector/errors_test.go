package connector

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestPermanent(t *testing.T) {
	base := errors.New("transaction 42 expired")
	marked := Permanent(base)
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", base, false},
		{"timeout", fmt.Errorf("dial: %w", io.ErrUnexpectedEOF), false},
		{"marked", marked, true},
		{"wrapped once", fmt.Errorf("commit checkpoint 3: %w", marked), true},
		{"wrapped twice", fmt.Errorf("job: %w", fmt.Errorf("commit: %w", marked)), true},
		{"joined", errors.Join(io.EOF, marked), true},
		{"mentioned, not wrapped", fmt.Errorf("commit: %v", marked), false},
		{"bad record", &BadRecordError{Record: BadRecord{Location: "a.jsonl:2"}}, true},
		{"data loss", fmt.Errorf("commit: %w", ErrDataLoss), true},
		{"output ahead", fmt.Errorf("resume: %w", ErrOutputAhead), true},
		{"rejected", fmt.Errorf("topic out: %w", ErrRejected), true},
		{"config", fmt.Errorf("sink: %w", ErrConfig), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPermanent(tc.err); got != tc.want {
				t.Fatalf("IsPermanent(%v) = %t, want %t", tc.err, got, tc.want)
			}
		})
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	if marked.Error() != base.Error() {
		t.Errorf("message changed: %q", marked.Error())
	}
	if !errors.Is(marked, base) {
		t.Error("the mark hides the wrapped error from errors.Is")
	}
}
