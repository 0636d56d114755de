package kinesis

import (
	"testing"

	"github.com/sluicehq/sluice/internal/crashtest"
)

// TestMain is the crash-test harness's: in a child process it runs the
// registered job instead of the tests. The emulator that tests start dies
// with the test process (see emuSysProcAttr).
func TestMain(m *testing.M) { crashtest.Main(m) }
