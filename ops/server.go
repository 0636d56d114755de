package ops

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/runtime"
)

// DefaultAddr is where a job serves unless told otherwise.
const DefaultAddr = "127.0.0.1:8081"

// TokenEnv is the environment variable cmd/sluice takes the token from.
const TokenEnv = "SLUICE_TOKEN"

// portTries is how many ports from the one asked for are tried when it is
// taken.
const portTries = 100

// Options configure a Server.
type Options struct {
	// Addr is the address to listen on (default DefaultAddr). When its
	// port is taken the next free one of the following 99 is used; port 0
	// picks any free port. An address that is not a loopback address
	// needs Token set: the token then is not generated, so that it can be
	// given to whoever operates the job.
	Addr string
	// Token authorizes POST requests (savepoint, stop); "" generates a
	// random one (see Server.Token).
	Token string
	// Guarantee is the job's end-to-end guarantee report, shown by the API
	// and the dashboard (nil: not shown).
	Guarantee *graph.GuaranteeReport
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
	// SampleEvery is how often rates are sampled (default 1s); the last
	// 5 minutes of samples are kept.
	SampleEvery time.Duration
}

// ErrTokenRequired is returned by Serve for an address other than a
// loopback address without Options.Token.
var ErrTokenRequired = errors.New("serving a job beyond localhost needs a token")

// Server serves one job. Close it when done; it keeps serving the final
// figures of a job that ended until then.
type Server struct {
	job     *runtime.Job
	opts    Options
	token   string
	ln      net.Listener
	srv     *http.Server
	samples *sampler
	logger  *slog.Logger
	// deadLetters maps sources to the readers of their dead-letter output.
	deadLetters map[string][]string
	done        chan struct{}
}

// Serve starts serving job. It returns once the server listens.
func Serve(job *runtime.Job, opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SampleEvery <= 0 {
		opts.SampleEvery = time.Second
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("http address %q: %w (use HOST:PORT, e.g. %s)", opts.Addr, err, DefaultAddr)
	}
	if !isLoopback(host) && opts.Token == "" {
		return nil, fmt.Errorf("http address %q: %w: set one (%s for sluice run) or listen on 127.0.0.1", opts.Addr, ErrTokenRequired, TokenEnv)
	}
	token := opts.Token
	if token == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("generate token: %w", err)
		}
		token = hex.EncodeToString(b)
	}
	ln, err := listen(opts.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{job: job, opts: opts, token: token, ln: ln, logger: opts.Logger, done: make(chan struct{})}
	s.samples = newSampler(job, int(5*time.Minute/opts.SampleEvery)+1)
	s.deadLetters = deadLetterReaders(job.Plan())
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(job, s.deadLetters), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.routes(mux)
	mux.Handle("/", uiHandler())
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.sample()
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server failed", "err", err)
		}
	}()
	return s, nil
}

// listen listens on addr, or on the next free port when its port is taken.
func listen(addr string) (net.Listener, error) {
	host, port, _ := net.SplitHostPort(addr)
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("http address %q: port %q is not a number", addr, port)
	}
	var first error
	for i := 0; i < portTries; i++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p+i)))
		if err == nil {
			return ln, nil
		}
		if first == nil {
			first = err
		}
		if p == 0 || !errors.Is(err, syscall.EADDRINUSE) || p+i >= 65535 {
			break
		}
	}
	return nil, fmt.Errorf("listen on %s: %w", addr, first)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL is the server's base URL, e.g. http://127.0.0.1:8081.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// DashboardURL is the dashboard's URL with the token in its fragment, which
// the browser keeps to itself (it is never sent to the server in the
// request line), so that the dashboard's buttons work.
func (s *Server) DashboardURL() string { return s.URL() + "/#token=" + s.token }

// Token is the token POST requests need.
func (s *Server) Token() string { return s.token }

// Handler is the server's handler (for tests and for mounting it into
// another server).
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Close stops serving.
func (s *Server) Close() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	close(s.done)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

func (s *Server) sample() {
	t := time.NewTicker(s.opts.SampleEvery)
	defer t.Stop()
	s.samples.take(time.Now())
	for {
		select {
		case now := <-t.C:
			s.samples.take(now)
		case <-s.done:
			return
		}
	}
}

// authorized checks the request's token: "Authorization: Bearer TOKEN" or
// the X-Sluice-Token header.
func (s *Server) authorized(r *http.Request) bool {
	tok := r.Header.Get("X-Sluice-Token")
	if a := r.Header.Get("Authorization"); tok == "" && a != "" {
		tok, _ = strings.CutPrefix(a, "Bearer ")
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1
}
