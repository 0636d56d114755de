package runtime

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestAligner runs the scripts in testdata/aligner:
//
//	new channels=3 mode=aligned|at-least-once|unaligned|timeout
//	barrier ch=1 id=5 [savepoint]
//	timeout id=5
//	abort id=5
//
// and prints the decision, the blocked and the captured channels after
// each command. mode=exactly-once is an alias of aligned.
func TestAligner(t *testing.T) {
	datadriven.Walk(t, "testdata/aligner", func(t *testing.T, path string) {
		var a *aligner
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			args := map[string]string{}
			for _, arg := range d.CmdArgs {
				args[arg.Key] = ""
				if len(arg.Vals) > 0 {
					args[arg.Key] = arg.Vals[0]
				}
			}
			num := func(k string) int64 {
				n, err := strconv.ParseInt(args[k], 10, 64)
				if err != nil {
					t.Fatalf("%s: bad %s=%q", d.Pos, k, args[k])
				}
				return n
			}
			var dec alignDecision
			switch d.Cmd {
			case "new":
				var mode alignMode
				switch args["mode"] {
				case "", "aligned", "exactly-once":
					mode = alignAligned
				case "at-least-once":
					mode = alignAtLeastOnce
				case "unaligned":
					mode = alignUnaligned
				case "timeout":
					mode = alignTimeout
				default:
					t.Fatalf("%s: unknown mode %q", d.Pos, args["mode"])
				}
				a = newAligner(int(num("channels")), mode)
				return "ok"
			case "barrier":
				_, sp := args["savepoint"]
				dec = a.onBarrier(int(num("ch")), num("id"), sp)
			case "timeout":
				dec = a.onTimeout(num("id"))
			case "abort":
				dec = a.abort(num("id"))
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			return fmt.Sprintf("%s\nblocked: %s\ncapturing: %s", dec, channels(a.blocked), channels(a.capturing))
		})
	})
}

func channels(set []bool) string {
	var out []string
	for i, b := range set {
		if b {
			out = append(out, strconv.Itoa(i))
		}
	}
	return "[" + strings.Join(out, " ") + "]"
}
