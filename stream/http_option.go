package stream

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/ops"
	"github.com/sluicehq/sluice/runtime"
)

// StartServing starts the job like Env.Start and serves it over HTTP
// (package ops): Prometheus metrics at /metrics, the REST API under
// /api/v1 and the dashboard at /, with the job's end-to-end guarantee.
// opts.Addr defaults to ops.DefaultAddr (127.0.0.1:8081, or the next free
// port); opts.Token to a random token (Server.Token, Server.DashboardURL).
// The server keeps serving the final figures after the job ended; Close it
// when done. If the server cannot start, the job is not started.
func StartServing(ctx context.Context, e *Env, opts ops.Options) (*runtime.Job, *ops.Server, error) {
	if opts.Guarantee == nil {
		g := e.Guarantee()
		opts.Guarantee = &g
	}
	ctx, cancel := context.WithCancel(ctx)
	job, err := e.Start(ctx)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	srv, err := ops.Serve(job, opts)
	if err != nil {
		cancel()
		<-job.Done()
		return nil, nil, fmt.Errorf("job %q: serve over http: %w", job.Plan().Name, err)
	}
	go func() {
		<-job.Done()
		cancel()
	}()
	return job, srv, nil
}
