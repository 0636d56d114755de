package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/ops"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/stream"
)

// httpFlagHelp is the help of `run --http`.
const httpFlagHelp = "serve metrics, the REST API and the dashboard on `ADDR` (the next free port if taken; off: none); " +
	"beyond localhost only with a token in $" + ops.TokenEnv

// checkHTTPAddr returns why addr cannot be served on, before the job starts.
func (a *app) checkHTTPAddr(addr string) error {
	if addr == "off" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (e.g. %s), nor off", addr, ops.DefaultAddr)
	}
	if tok, _ := a.lookupEnv(ops.TokenEnv); tok == "" {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("serving beyond localhost (%s) needs a token: set %s", host, ops.TokenEnv)
		}
	}
	return nil
}

// serveJob serves job on addr ("off": not at all) and logs where, with the
// token unless it came from the environment.
func (a *app) serveJob(job *runtime.Job, env *stream.Env, addr string, logger *slog.Logger) (*ops.Server, error) {
	if addr == "off" {
		return nil, nil
	}
	tok, fromEnv := a.lookupEnv(ops.TokenEnv)
	fromEnv = fromEnv && tok != ""
	g := env.Guarantee()
	srv, err := ops.Serve(job, ops.Options{Addr: addr, Token: tok, Guarantee: &g, Logger: logger})
	if err != nil {
		return nil, err
	}
	if fromEnv {
		logger.Info("serving metrics, REST API and dashboard", "url", srv.URL(), "token", "$"+ops.TokenEnv)
	} else {
		logger.Info("serving metrics, REST API and dashboard", "url", srv.URL(), "dashboard", srv.DashboardURL(), "token", srv.Token())
	}
	return srv, nil
}

// benchServer serves a benchmark's job and, optionally, fetches its
// metrics and job document periodically, like a Prometheus server and an
// open dashboard would.
type benchServer struct {
	srv  *ops.Server
	stop chan struct{}
	done chan struct{}
}

func (b *benchServer) start(a *app, job *runtime.Job, env *stream.Env, addr string, every time.Duration) {
	srv, err := a.serveJob(job, env, addr, slog.New(slog.NewTextHandler(a.stderr, nil)))
	if err != nil {
		fmt.Fprintf(a.stderr, "sluice bench nexmark: --http %s: %v (measuring without)\n", addr, err)
		return
	}
	b.srv = srv
	if every <= 0 {
		return
	}
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(b.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				for _, p := range []string{"/metrics", "/api/v1/job"} {
					if resp, err := http.Get(srv.URL() + p); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			case <-b.stop:
				return
			}
		}
	}()
}

func (b *benchServer) close() {
	if b.stop != nil {
		close(b.stop)
		<-b.done
	}
	if b.srv != nil {
		b.srv.Close()
	}
}
