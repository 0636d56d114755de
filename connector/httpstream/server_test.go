package httpstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// streamServer is a test server of one stream of messages. With SSE it
// sends each message as an event whose id is its index, starting after
// the Last-Event-ID it is sent (a server that honours Last-Event-ID);
// with NDJSON it sends each message once in all (a live stream: a
// connection continues where the previous one stopped).
type streamServer struct {
	*httptest.Server
	framing Framing
	msgs    []string

	// Settings, fixed before the first request.
	perConn   int           // end a response after this many messages (0: no limit)
	keepAlive time.Duration // after the last message: keep the response open, a keep-alive every keepAlive (0: end it)
	eol       string        // line ending (default "\n")
	status    []int         // the statuses of the first requests (then 200)
	header    http.Header   // extra response headers of the failed requests
	body      string        // the body of the failed requests
	pace      time.Duration // a pause before every message

	mu       sync.Mutex
	next     int      // NDJSON: the next message
	requests int      // requests served
	lastIDs  []string // the Last-Event-ID of every request
	auth     []string // the Authorization of every request
}

func newStreamServer(t testing.TB, framing Framing, msgs []string, configure func(*streamServer)) *streamServer {
	s := &streamServer{framing: framing, msgs: msgs, eol: "\n"}
	if configure != nil {
		configure(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

func (s *streamServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	req := s.requests
	s.requests++
	s.lastIDs = append(s.lastIDs, r.Header.Get("Last-Event-ID"))
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	if req < len(s.status) && s.status[req] != http.StatusOK {
		for k, vs := range s.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(s.status[req])
		fmt.Fprint(w, s.body)
		return
	}
	f := w.(http.Flusher)
	if s.framing == SSE {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(http.StatusOK)
	f.Flush()
	start := 0
	if id := r.Header.Get("Last-Event-ID"); id != "" && s.framing == SSE {
		n, err := strconv.Atoi(id)
		if err != nil {
			http.Error(w, "bad Last-Event-ID", http.StatusBadRequest)
			return
		}
		start = n + 1
	}
	for sent := 0; s.perConn == 0 || sent < s.perConn; sent++ {
		var i int
		if s.framing == SSE {
			i = start + sent
		} else {
			s.mu.Lock()
			i = s.next
			if i < len(s.msgs) {
				s.next++
			}
			s.mu.Unlock()
		}
		if i >= len(s.msgs) {
			break
		}
		if s.pace > 0 {
			time.Sleep(s.pace)
		}
		var err error
		if s.framing == SSE {
			_, err = fmt.Fprintf(w, "id: %d%sdata: %s%s%s", i, s.eol, s.msgs[i], s.eol, s.eol)
		} else {
			_, err = fmt.Fprintf(w, "%s%s", s.msgs[i], s.eol)
		}
		if err != nil {
			return
		}
		f.Flush()
	}
	if s.keepAlive == 0 || (s.perConn > 0 && !s.done(start)) {
		return
	}
	t := time.NewTicker(s.keepAlive)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
		ka := s.eol
		if s.framing == SSE {
			ka = ":" + s.eol
		}
		if _, err := fmt.Fprint(w, ka); err != nil {
			return
		}
		f.Flush()
	}
}

// done reports whether every message was sent (SSE: from start on, in
// one response of perConn messages).
func (s *streamServer) done(start int) bool {
	if s.framing == SSE {
		return start+s.perConn >= len(s.msgs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next >= len(s.msgs)
}

func (s *streamServer) seen() (requests int, lastIDs, auth []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, append([]string(nil), s.lastIDs...), append([]string(nil), s.auth...)
}

func httptestServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func numbered2(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
