package pipeline

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
	"github.com/sluicehq/sluice/connector"
	// The connectors the tests of this package use from YAML.
	_ "github.com/sluicehq/sluice/pipeline/builtin"
)

// registeredSinks lists the sink types the tests link, as messages do:
// other test files of the package register more.
func registeredSinks() string { return strings.Join(connector.SinkTypeNames(), ", ") }

// The shortest checkpoint interval of YAML pipelines is the runtime's.
func TestMinCheckpointInterval(t *testing.T) {
	if minCheckpointInterval != coordinator.MinInterval {
		t.Errorf("minCheckpointInterval %v, the coordinator's MinInterval %v", minCheckpointInterval, coordinator.MinInterval)
	}
	f, _ := reflect.TypeFor[checkpointsSection]().FieldByName("Timeout")
	if min := mustDuration(f.Tag.Get("min")); min != minCheckpointInterval {
		t.Errorf("checkpoints.timeout's minimum %v, want %v", min, minCheckpointInterval)
	}
}
