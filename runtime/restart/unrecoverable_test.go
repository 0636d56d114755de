package restart

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestUnrecoverable(t *testing.T) {
	base := errors.New("transaction 42 expired")
	marked := Unrecoverable(base)
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", base, false},
		{"marked", marked, true},
		{"wrapped once", fmt.Errorf("commit checkpoint 3: %w", marked), true},
		{"wrapped twice", fmt.Errorf("job: %w", fmt.Errorf("commit: %w", marked)), true},
		{"joined", errors.Join(io.EOF, marked), true},
		{"mentioned, not wrapped", fmt.Errorf("commit: %v", marked), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsUnrecoverable(tc.err); got != tc.want {
				t.Fatalf("IsUnrecoverable(%v) = %t, want %t", tc.err, got, tc.want)
			}
		})
	}
	if Unrecoverable(nil) != nil {
		t.Error("Unrecoverable(nil) is not nil")
	}
	if marked.Error() != base.Error() {
		t.Errorf("message changed: %q", marked.Error())
	}
	if !errors.Is(marked, base) {
		t.Error("the mark hides the wrapped error from errors.Is")
	}
}
