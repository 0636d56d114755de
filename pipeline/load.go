package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LoadOption configures Load and Parse.
type LoadOption func(*loadOptions)

type loadOptions struct {
	env func(string) (string, bool)
	set []string
}

// WithEnv sets where ${VAR} is looked up (default os.LookupEnv).
func WithEnv(lookup func(string) (string, bool)) LoadOption {
	return func(o *loadOptions) { o.env = lookup }
}

// WithSet overrides keys of the file, as `sluice run --set` does: each
// item is "path=value", the path dotted with [n] for list items
// ("checkpoints.interval=1s", "steps[1].window.size=5s") and the value
// YAML ("[a, b]", "{type: stdout}"). Missing mappings are created.
func WithSet(items ...string) LoadOption {
	return func(o *loadOptions) { o.set = append(o.set, items...) }
}

// Load reads, interpolates, decodes and validates the pipeline in file.
// Mistakes are returned together as Errors (errors.Is(err, ErrInvalid)),
// each naming the file, line and key and what is allowed there.
func Load(file string, opts ...LoadOption) (*Pipeline, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load pipeline: %w", err)
	}
	return Parse(file, data, opts...)
}

// maxFileSize bounds the size of a pipeline file.
const maxFileSize = 4 << 20

// Parse is Load for a pipeline already read; file names it in messages.
func Parse(file string, data []byte, opts ...LoadOption) (*Pipeline, error) {
	o := loadOptions{env: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	e := &errs{file: file}
	if len(data) > maxFileSize {
		e.add(file, nil, "", "the file is %d bytes; a pipeline file is at most %d", len(data), maxFileSize)
		return nil, e.err()
	}
	// A tree whose only mistakes are unset variables is still decoded, so
	// that all mistakes of the file are reported at once.
	root := parseYAML(file, "", data, o.env, e)
	if root == nil {
		return nil, e.err()
	}
	return decode(file, root, o, e)
}

// decode decodes and validates the tree root, after applying the --set
// overrides, adding its mistakes to e.
func decode(file string, root *node, o loadOptions, e *errs) (*Pipeline, error) {
	before := e.count()
	for _, s := range o.set {
		path, v := parseSet(s, o.env, e)
		if v == nil {
			continue
		}
		if err := applySet(root, path, v); err != nil {
			e.add("--set", nil, path, "%v", err)
		}
	}
	if e.count() > before {
		return nil, e.err()
	}
	base := filepath.Base(file)
	p := &Pipeline{File: file, Name: strings.TrimSuffix(base, filepath.Ext(base)), root: root, opts: o}
	d := &decoder{file: file, errs: e}
	d.decodePipeline(root, p)
	if err := e.err(); err != nil {
		return nil, err
	}
	return p, nil
}
