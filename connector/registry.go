package connector

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Info describes a connector for the table of connectors (README,
// `sluice connectors`): what it is and which guarantee it gives under
// which configuration.
type Info struct {
	// Name is the connector's type name as used in YAML pipelines.
	Name string
	// Role is "source" or "sink".
	Role string
	// System names the external system.
	System string
	// Cases list the guarantees under their conditions, strongest first.
	Cases []Case
	// Test says what the connector is tested against (a real server, an
	// in-process broker, a protocol-level stand-in).
	Test string
}

// Case is one guarantee and the configuration that gives it.
type Case struct {
	Guarantee Guarantee
	When      string
}

var (
	regMu    sync.Mutex
	registry = map[string]Info{}
)

// Register adds a connector to the table. Connector packages call it from
// init; a duplicate role/name panics.
func Register(info Info) {
	regMu.Lock()
	defer regMu.Unlock()
	key := info.Role + "/" + info.Name
	if _, dup := registry[key]; dup {
		panic("connector: " + key + " registered twice")
	}
	registry[key] = info
}

// Registered returns the registered connectors, sources first, by name.
func Registered() []Info {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]Info, 0, len(registry))
	for _, i := range registry {
		out = append(out, i)
	}
	slices.SortFunc(out, func(a, b Info) int {
		if a.Role != b.Role {
			return strings.Compare(b.Role, a.Role) // "source" before "sink"
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Table renders the registered connectors as a Markdown table.
func Table() string {
	var b strings.Builder
	b.WriteString("| connector | role | system | guarantee | when | tested against |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, in := range Registered() {
		for i, c := range in.Cases {
			name, role, sys, test := in.Name, in.Role, in.System, in.Test
			if i > 0 {
				name, role, sys, test = "", "", "", ""
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", name, role, sys, c.Guarantee, c.When, test)
		}
	}
	return b.String()
}
