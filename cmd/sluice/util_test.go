package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

func execCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}

func runtimeEvent(kind string, id int64) runtime.JobEvent {
	return runtime.JobEvent{Kind: kind, CheckpointID: id, Time: time.Now()}
}

func jsonUnmarshalNumbers(b []byte, v *map[string]any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	for k, x := range *v {
		if n, ok := x.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				(*v)[k] = i
			}
		}
	}
	return nil
}
