package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/ops"
)

// The commands that talk to a running job over its HTTP endpoint (package
// ops): status, savepoint and stop. `sluice checkpoints` stays offline.

// remote is what status, savepoint and stop share: the job's base URL.
type remote struct {
	base   *url.URL
	token  string
	client *http.Client
}

// remoteArgs parses `sluice CMD URL [flags]`.
func (a *app) remoteArgs(argv []string, cmd, synopsis string, needToken bool, extra func(fs *flag.FlagSet)) (*remote, int) {
	fs := a.newFlagSet(cmd, synopsis)
	var token string
	timeout := 2 * time.Minute
	if needToken {
		fs.StringVar(&token, "token", "", "the job's token (default $"+ops.TokenEnv+"); sluice run prints it at start")
	}
	fs.DurationVar(&timeout, "timeout", timeout, "how long to wait for the job's answer")
	if extra != nil {
		extra(fs)
	}
	pos, err := parseArgs(fs, argv)
	if err != nil {
		return nil, flagErr(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return nil, exitUsage
	}
	raw := pos[0]
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		fmt.Fprintf(a.stderr, "sluice %s: %q is not the URL of a job (sluice run prints it, e.g. http://%s)\n", cmd, pos[0], ops.DefaultAddr)
		return nil, exitUsage
	}
	u.Fragment, u.RawQuery = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/")
	if needToken && token == "" {
		token, _ = a.lookupEnv(ops.TokenEnv)
	}
	if needToken && token == "" {
		fmt.Fprintf(a.stderr, "sluice %s: the job's token is needed: --token TOKEN or %s (sluice run printed it at start)\n", cmd, ops.TokenEnv)
		return nil, exitUsage
	}
	return &remote{base: u, token: token, client: &http.Client{Timeout: timeout}}, exitOK
}

// call sends a request to the job's REST API and decodes its answer into v.
func (r *remote) call(ctx context.Context, method, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, r.base.String()+"/api/v1/"+path, nil)
	if err != nil {
		return err
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("no job answers at %s: %w", r.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e ops.ErrorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return &remoteError{code: resp.StatusCode, msg: e.Error}
		}
		return &remoteError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s (is this a sluice job?)", method, path, resp.Status)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s %s: the answer is not what a sluice job sends: %w", method, path, err)
	}
	return nil
}

type remoteError struct {
	code int
	msg  string
}

func (e *remoteError) Error() string { return e.msg }

// remoteExit reports err of command cmd and returns its exit code: 2 for a
// refused token, 1 otherwise.
func (a *app) remoteExit(cmd string, err error) int {
	fmt.Fprintf(a.stderr, "sluice %s: %v\n", cmd, err)
	var re *remoteError
	if errors.As(err, &re) && re.code == http.StatusUnauthorized {
		return exitUsage
	}
	return exitFailed
}

const (
	statusSynopsis    = "status URL [--json]"
	savepointSynopsis = "savepoint URL [--token TOKEN]"
	stopSynopsis      = "stop URL [--token TOKEN]"
)

// status prints the state of a running job.
func (a *app) status(argv []string) int {
	var asJSON bool
	r, code := a.remoteArgs(argv, "status", statusSynopsis, false, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the job, checkpoints and exceptions as one JSON object")
	})
	if r == nil {
		return code
	}
	ctx := context.Background()
	var (
		job ops.JobInfo
		cps ops.Checkpoints
		ex  ops.Exceptions
	)
	for _, c := range []struct {
		path string
		v    any
	}{{"job", &job}, {"checkpoints", &cps}, {"exceptions", &ex}} {
		if err := r.call(ctx, http.MethodGet, c.path, c.v); err != nil {
			return a.remoteExit("status", err)
		}
	}
	if asJSON {
		b, _ := json.MarshalIndent(map[string]any{"job": job, "checkpoints": cps, "exceptions": ex}, "", "  ")
		fmt.Fprintln(a.stdout, string(b))
		return exitOK
	}
	w := a.stdout
	fmt.Fprintf(w, "job %q: %s, up %s, %d restarts\n", job.Name, job.State, (time.Duration(job.UptimeSeconds) * time.Second).String(), job.Restarts)
	if job.Error != "" {
		fmt.Fprintf(w, "  ended with: %s\n", job.Error)
	}
	if g := job.Guarantee; g != nil {
		fmt.Fprintf(w, "end-to-end guarantee: %s\n", g.Guarantee)
	}
	if job.Checkpointing.Enabled {
		fmt.Fprintf(w, "checkpoints: every %v (%s), %d completed, %d failed", time.Duration(job.Checkpointing.IntervalMS)*time.Millisecond,
			job.Checkpointing.Mode, cps.Completed, cps.Failed)
		for i := len(cps.History) - 1; i >= 0; i-- {
			if c := cps.History[i]; c.Status == "completed" {
				fmt.Fprintf(w, "; newest: %s %d at %s, %.0f ms", c.Kind, c.ID, c.Time.Local().Format(time.TimeOnly), c.DurationMS)
				break
			}
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w, "checkpoints: off")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "operator\tparallelism\trecords in\trecords out\tin/s\tout/s\tbackpressure\t")
	for _, v := range job.Vertices {
		for _, o := range v.Operators {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.0f\t%s\t\n", o.Name, v.Parallelism, o.RecordsIn, o.RecordsOut,
				o.RecordsInPerSecond, o.RecordsOutPerSecond, fmt.Sprintf("%s %.0f%%", v.Level, v.Backpressure*100))
		}
	}
	tw.Flush()
	if n := len(ex.Failures); n > 0 {
		f := ex.Failures[0]
		what := "not restarted"
		switch {
		case f.Permanent:
			what = "permanent, not restarted"
		case f.Restarted:
			what = fmt.Sprintf("restarted after %v", time.Duration(f.RestartDelayMS)*time.Millisecond)
		}
		fmt.Fprintf(w, "%d failures; newest at %s (%s): %s\n", n, f.Time.Local().Format(time.TimeOnly), what, f.Error)
	}
	return exitOK
}

// savepoint takes a savepoint of a running job and prints its path.
func (a *app) savepoint(argv []string) int {
	r, code := a.remoteArgs(argv, "savepoint", savepointSynopsis, true, nil)
	if r == nil {
		return code
	}
	var res ops.ActionResult
	if err := r.call(context.Background(), http.MethodPost, "savepoints", &res); err != nil {
		return a.remoteExit("savepoint", err)
	}
	fmt.Fprintln(a.stdout, res.Path)
	return exitOK
}

// stop stops a running job with a final checkpoint and prints its path.
func (a *app) stop(argv []string) int {
	r, code := a.remoteArgs(argv, "stop", stopSynopsis, true, nil)
	if r == nil {
		return code
	}
	var res ops.ActionResult
	if err := r.call(context.Background(), http.MethodPost, "stop", &res); err != nil {
		return a.remoteExit("stop", err)
	}
	if res.Path != "" {
		fmt.Fprintln(a.stdout, res.Path)
	}
	return exitOK
}
