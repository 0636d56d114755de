package leanbuild

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists the packages pkg links, as `go list -deps` does.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

func TestLeanBuilds(t *testing.T) {
	cloud := []string{"aws", "cloud.google.com/", "Azure", "gocloud.dev/blob/s3blob", "gocloud.dev/blob/gcsblob", "gocloud.dev/blob/azureblob"}
	cases := []struct {
		pkg      string
		forbid   []string // substrings no linked package may contain
		required []string // packages that must be linked
	}{
		{pkg: "github.com/sluicehq/sluice/stream", forbid: cloud},
		{pkg: "github.com/sluicehq/sluice/checkpoint/storage", forbid: cloud},
		// YAML pipelines link the client library of a connector only when
		// the program imports that connector.
		{pkg: "github.com/sluicehq/sluice/pipeline", forbid: append([]string{"github.com/twmb/franz-go"}, cloud...)},
		{pkg: "github.com/sluicehq/sluice/connector/kafka", required: []string{"github.com/twmb/franz-go/pkg/kgo"}},
		{pkg: "github.com/sluicehq/sluice/checkpoint/storage/s3", required: []string{"gocloud.dev/blob/s3blob"}},
		{pkg: "github.com/sluicehq/sluice/checkpoint/storage/gcs", required: []string{"gocloud.dev/blob/gcsblob"}},
		{pkg: "github.com/sluicehq/sluice/checkpoint/storage/azure", required: []string{"gocloud.dev/blob/azureblob"}},
		{pkg: "github.com/sluicehq/sluice/cmd/sluice", required: []string{
			"gocloud.dev/blob/s3blob", "gocloud.dev/blob/gcsblob", "gocloud.dev/blob/azureblob"}},
	}
	for _, c := range cases {
		t.Run(c.pkg, func(t *testing.T) {
			linked := deps(t, c.pkg)
			have := map[string]bool{}
			for _, p := range linked {
				have[p] = true
				for _, f := range c.forbid {
					if strings.Contains(p, f) {
						t.Errorf("%s links %s", c.pkg, p)
					}
				}
			}
			for _, r := range c.required {
				if !have[r] {
					t.Errorf("%s does not link %s", c.pkg, r)
				}
			}
		})
	}
}
