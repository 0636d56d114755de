package cqltest

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is one node of a stand-in cluster: a CQL native-protocol v4
// listener on a loopback port.
type Server struct {
	cluster *Cluster
	index   int
	ln      net.Listener
	hostID  []byte
	dc      string

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
	inFlight atomic.Int64
	maxIn    atomic.Int64
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the server's port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// DataCenter is the server's data center.
func (s *Server) DataCenter() string { return s.dc }

// MaxInFlight is the largest number of data statements (INSERT, UPDATE,
// DELETE, SELECT of user tables, batches) this server handled at once.
func (s *Server) MaxInFlight() int { return int(s.maxIn.Load()) }

// Close stops the server and closes its connections.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// DropConnections closes every open client connection (the listener
// stays open): what a node restart looks like to the driver.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			(&conn{srv: s, c: c}).run()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// conn is one client connection.
type conn struct {
	srv *Server
	c   net.Conn

	wmu      sync.Mutex
	bw       *bufio.Writer
	ksMu     sync.Mutex
	keyspace string
	started  bool
	authed   bool
	reqs     sync.WaitGroup
}

func (c *conn) run() {
	br := bufio.NewReader(c.c)
	c.bw = bufio.NewWriter(c.c)
	defer c.reqs.Wait()
	for {
		f, err := readFrame(br, MaxFrameBody)
		if err != nil {
			var pv *protocolVersionError
			if errors.As(err, &pv) {
				c.reply(min(pv.version, protoVersion), pv.stream, opError, errorBody(&cqlError{code: CodeProtocol, msg: pv.Error()}))
				continue
			}
			if errors.Is(err, errBadFrame) {
				c.reply(protoVersion, f.stream, opError, errorBody(&cqlError{code: CodeProtocol, msg: err.Error()}))
			}
			return
		}
		req, err := decodeRequest(f)
		if err != nil {
			c.reply(protoVersion, f.stream, opError, errorBody(&cqlError{code: CodeProtocol, msg: err.Error()}))
			continue
		}
		switch f.opcode {
		case opOptions, opStartup, opAuthResponse, opRegister:
			// Handshake requests in order.
			c.handle(f, req)
		default:
			c.reqs.Add(1)
			go func() {
				defer c.reqs.Done()
				c.handle(f, req)
			}()
		}
	}
}

func (c *conn) reply(version byte, stream int16, op byte, body []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.bw.Write(appendFrame(nil, version, stream, op, body))
	c.bw.Flush()
}

func errorBody(e *cqlError) []byte {
	w := writer{}
	w.int_(e.code)
	w.string_(e.msg)
	w.b = append(w.b, e.extra...)
	return w.b
}

func (c *conn) fail(f frame, e *cqlError) { c.reply(protoVersion, f.stream, opError, errorBody(e)) }

func (c *conn) handle(f frame, req any) {
	cl := c.srv.cluster
	switch f.opcode {
	case opOptions:
		w := writer{}
		w.short(2)
		w.string_("CQL_VERSION")
		w.stringList([]string{"3.4.4"})
		w.string_("COMPRESSION")
		w.stringList(nil)
		c.reply(protoVersion, f.stream, opSupported, w.b)
		return
	case opStartup:
		c.started = true
		if cl.user != "" {
			w := writer{}
			w.string_("org.apache.cassandra.auth.PasswordAuthenticator")
			c.reply(protoVersion, f.stream, opAuthenticate, w.b)
			return
		}
		c.authed = true
		c.reply(protoVersion, f.stream, opReady, nil)
		return
	case opAuthResponse:
		tok, _ := req.([]byte)
		parts := bytes.Split(tok, []byte{0})
		if len(parts) != 3 || string(parts[1]) != cl.user || string(parts[2]) != cl.password {
			user := ""
			if len(parts) == 3 {
				user = string(parts[1])
			}
			c.fail(f, &cqlError{code: CodeBadCredential, msg: fmt.Sprintf("Provided username %s and/or password are incorrect", user)})
			return
		}
		c.authed = true
		w := writer{}
		w.bytes(nil)
		c.reply(protoVersion, f.stream, opAuthSuccess, w.b)
		return
	}
	if !c.started || !c.authed {
		c.fail(f, &cqlError{code: CodeProtocol, msg: "Unexpected message, expecting STARTUP or AUTH_RESPONSE"})
		return
	}
	switch f.opcode {
	case opRegister:
		c.reply(protoVersion, f.stream, opReady, nil)
	case opPrepare:
		c.prepare(f, req.(string))
	case opQuery:
		q := req.(queryRequest)
		c.execute(f, q.query, nil, q.params)
	case opExecute:
		e := req.(executeRequest)
		p, ok := cl.prepared(e.id)
		if !ok {
			w := writer{}
			w.shortBytes(e.id)
			c.fail(f, &cqlError{code: CodeUnprepared, msg: "Prepared query with ID " + fmt.Sprintf("%x", e.id) + " not found", extra: w.b})
			return
		}
		c.execute(f, p.query, p, e.params)
	case opBatch:
		c.batch(f, req.(batchRequest))
	default:
		c.fail(f, &cqlError{code: CodeProtocol, msg: fmt.Sprintf("opcode 0x%02x is not a request", f.opcode)})
	}
}

func (c *conn) currentKeyspace() string {
	c.ksMu.Lock()
	defer c.ksMu.Unlock()
	return c.keyspace
}

// preparedStmt is a statement the cluster prepared.
type preparedStmt struct {
	query    string
	keyspace string // the keyspace of the session that prepared it
	st       *statement
}

func toCQLError(err error) *cqlError {
	var ce *cqlError
	if errors.As(err, &ce) {
		return ce
	}
	var se *syntaxError
	if errors.As(err, &se) {
		return &cqlError{code: CodeSyntax, msg: se.msg}
	}
	return &cqlError{code: CodeServer, msg: err.Error()}
}

func (c *conn) prepare(f frame, query string) {
	cl := c.srv.cluster
	st, err := parse(query)
	if err != nil {
		c.fail(f, toCQLError(err))
		return
	}
	ks := c.currentKeyspace()
	var specs, rcols []colSpec
	var pk []uint16
	if isSystem(st) {
		specs, rcols, err = c.srv.systemSpecs(st)
	} else {
		specs, pk, err = cl.store.markerTypes(st, ks)
		if err == nil {
			rcols, err = cl.store.resultColumns(st, ks)
		}
	}
	if err != nil {
		c.fail(f, toCQLError(err))
		return
	}
	sum := md5.Sum([]byte(ks + "\x00" + query))
	id := sum[:]
	cl.addPrepared(id, &preparedStmt{query: query, keyspace: ks, st: st})
	w := writer{}
	w.int_(4)
	w.shortBytes(id)
	// Variables metadata.
	global := sameTable(specs)
	flags := int32(0)
	if global {
		flags = 1
	}
	w.int_(flags)
	w.int_(int32(len(specs)))
	w.int_(int32(len(pk)))
	for _, i := range pk {
		w.short(i)
	}
	writeSpecs(&w, specs, global)
	// Result metadata.
	if rcols == nil {
		w.int_(0x0004)
		w.int_(0)
	} else {
		g := sameTable(rcols)
		fl := int32(0)
		if g {
			fl = 1
		}
		w.int_(fl)
		w.int_(int32(len(rcols)))
		writeSpecs(&w, rcols, g)
	}
	c.reply(protoVersion, f.stream, opResult, w.b)
}

func sameTable(specs []colSpec) bool {
	if len(specs) == 0 {
		return false
	}
	for _, s := range specs[1:] {
		if s.ks != specs[0].ks || s.table != specs[0].table {
			return false
		}
	}
	return true
}

func writeSpecs(w *writer, specs []colSpec, global bool) {
	if global {
		w.string_(specs[0].ks)
		w.string_(specs[0].table)
	}
	for _, s := range specs {
		if !global {
			w.string_(s.ks)
			w.string_(s.table)
		}
		w.string_(s.name)
		w.typ(s.typ)
	}
}

// bindValues orders the values of a request by the statement's markers
// (named values are matched by name).
func bindValues(st *statement, p queryParams) ([][]byte, *cqlError) {
	if p.names == nil {
		if len(p.values) != len(st.markers) {
			return nil, invalid("There were %d markers(?) in CQL but %d bound variables", len(st.markers), len(p.values))
		}
		return p.values, nil
	}
	out := make([][]byte, len(st.markers))
	for i, m := range st.markers {
		name := m.name
		if name == "" {
			name = m.column
		}
		j := -1
		for k, n := range p.names {
			if strings.EqualFold(n, name) {
				j = k
				break
			}
		}
		if j < 0 {
			return nil, invalid("Missing value for bind variable %s", name)
		}
		out[i] = p.values[j]
	}
	return out, nil
}

func (c *conn) execute(f frame, query string, p *preparedStmt, params queryParams) {
	cl := c.srv.cluster
	var st *statement
	ks := c.currentKeyspace()
	if p != nil {
		st, ks = p.st, p.keyspace
		if p.st.keyspace == "" && p.keyspace == "" {
			ks = c.currentKeyspace()
		}
	} else {
		var err error
		if st, err = parse(query); err != nil {
			c.fail(f, toCQLError(err))
			return
		}
	}
	values, cerr := bindValues(st, params)
	if cerr != nil {
		c.fail(f, cerr)
		return
	}
	if isSystem(st) {
		res, err := c.srv.systemQuery(st, values)
		if err != nil {
			c.fail(f, toCQLError(err))
			return
		}
		c.reply(protoVersion, f.stream, opResult, encodeResult(res, params.flags&qfSkipMetadata != 0 && p != nil))
		return
	}
	b := &bound{st: st, values: values, ks: ks}
	if params.flags&qfDefaultTimestamp != 0 {
		b.ts = params.timestamp
	}
	data := st.kind >= stInsert
	if data {
		done := c.srv.enter()
		defer done()
	}
	res, err := cl.run(query, data, func() (*result, error) { return cl.store.apply(b) })
	if err != nil {
		if errors.Is(err, errDrop) {
			c.c.Close()
			return
		}
		c.fail(f, toCQLError(err))
		return
	}
	if res.kind == 3 {
		c.ksMu.Lock()
		c.keyspace = res.keyspace
		c.ksMu.Unlock()
	}
	c.reply(protoVersion, f.stream, opResult, encodeResult(res, params.flags&qfSkipMetadata != 0 && p != nil))
}

func (s *Server) enter() func() {
	n := s.inFlight.Add(1)
	for {
		m := s.maxIn.Load()
		if n <= m || s.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	return func() { s.inFlight.Add(-1) }
}

func (c *conn) batch(f frame, req batchRequest) {
	cl := c.srv.cluster
	var bs []*bound
	var queries []string
	for i, e := range req.entries {
		query, ks := e.query, c.currentKeyspace()
		var st *statement
		if e.id != nil {
			p, ok := cl.prepared(e.id)
			if !ok {
				w := writer{}
				w.shortBytes(e.id)
				c.fail(f, &cqlError{code: CodeUnprepared, msg: fmt.Sprintf("Prepared query with ID %x not found", e.id), extra: w.b})
				return
			}
			query, st = p.query, p.st
			if p.keyspace != "" {
				ks = p.keyspace
			}
		} else {
			var err error
			if st, err = parse(query); err != nil {
				c.fail(f, toCQLError(err))
				return
			}
		}
		if st.kind != stInsert && st.kind != stUpdate && st.kind != stDelete {
			c.fail(f, invalid("Invalid statement in batch: only UPDATE, INSERT and DELETE statements are allowed (statement %d)", i))
			return
		}
		if st.ifExists || st.ifNotExists || len(st.ifConds) > 0 {
			c.fail(f, invalid("conditional statements in a batch are not supported by the stand-in"))
			return
		}
		if len(e.values) != len(st.markers) {
			c.fail(f, invalid("There were %d markers(?) in CQL but %d bound variables", len(st.markers), len(e.values)))
			return
		}
		b := &bound{st: st, values: e.values, ks: ks}
		if req.flags&qfDefaultTimestamp != 0 {
			b.ts = req.timestamp
		}
		bs = append(bs, b)
		queries = append(queries, query)
	}
	// Counter and non-counter statements do not mix.
	var counters, others int
	cl.store.mu.Lock()
	for _, b := range bs {
		if t, err := cl.store.resolve(b); err == nil {
			if t.counter {
				counters++
			} else {
				others++
			}
		}
	}
	cl.store.mu.Unlock()
	switch {
	case req.typ == 2 && others > 0:
		c.fail(f, invalid("Cannot include non-counter statement in a counter batch"))
		return
	case req.typ != 2 && counters > 0:
		c.fail(f, invalid("Cannot include a counter statement in a logged batch"))
		return
	}
	done := c.srv.enter()
	defer done()
	res, err := cl.run(strings.Join(queries, "\n"), true, func() (*result, error) { return cl.store.applyBatch(bs) })
	if err != nil {
		if errors.Is(err, errDrop) {
			c.c.Close()
			return
		}
		c.fail(f, toCQLError(err))
		return
	}
	c.reply(protoVersion, f.stream, opResult, encodeResult(res, false))
}

// encodeResult encodes a RESULT body.
func encodeResult(res *result, skipMetadata bool) []byte {
	w := writer{}
	w.int_(res.kind)
	switch res.kind {
	case 2:
		if skipMetadata {
			w.int_(0x0004)
			w.int_(int32(len(res.cols)))
		} else {
			g := sameTable(res.cols)
			fl := int32(0)
			if g {
				fl = 1
			}
			w.int_(fl)
			w.int_(int32(len(res.cols)))
			writeSpecs(&w, res.cols, g)
		}
		w.int_(int32(len(res.rows)))
		for _, r := range res.rows {
			for _, v := range r {
				w.bytes(v)
			}
		}
	case 3:
		w.string_(res.keyspace)
	case 5:
		w.string_(res.change[0])
		w.string_(res.change[1])
		w.string_(res.change[2])
		if res.change[1] != "KEYSPACE" {
			w.string_(res.changeObj)
		}
	}
	return w.b
}

// ---- The cluster ----

// Cluster is a stand-in Cassandra cluster: nodes sharing one Store, with
// injectable faults.
type Cluster struct {
	store    *Store
	nodes    []*Server
	user     string
	password string
	schema   []byte

	pmu      sync.Mutex
	prepStmt map[string]*preparedStmt

	fmu    sync.Mutex
	faults []*Fault
	counts map[string]int
}

// Option configures NewCluster.
type Option func(*clusterConfig)

type clusterConfig struct {
	nodes    int
	dcs      []string
	user     string
	password string
	tls      *tls.Config
	store    *Store
}

// Nodes sets the number of nodes (default 1).
func Nodes(n int) Option { return func(c *clusterConfig) { c.nodes = n } }

// DataCenters names the data centers of the nodes in turn (default
// "datacenter1" for all).
func DataCenters(dcs ...string) Option { return func(c *clusterConfig) { c.dcs = dcs } }

// Credentials makes the nodes require password authentication
// (PasswordAuthenticator) with this user and password.
func Credentials(user, password string) Option {
	return func(c *clusterConfig) { c.user, c.password = user, password }
}

// TLS makes the nodes accept TLS connections only, with this server
// configuration.
func TLS(cfg *tls.Config) Option { return func(c *clusterConfig) { c.tls = cfg } }

// WithStore makes the cluster serve an existing store (to restart a
// cluster over the same data).
func WithStore(s *Store) Option { return func(c *clusterConfig) { c.store = s } }

// NewCluster starts a stand-in cluster: node i listens on a free port of
// 127.0.0.<i+1> (at most 254 nodes).
func NewCluster(opts ...Option) (*Cluster, error) {
	cfg := clusterConfig{nodes: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.store == nil {
		cfg.store = NewStore()
	}
	cl := &Cluster{store: cfg.store, user: cfg.user, password: cfg.password,
		prepStmt: map[string]*preparedStmt{}, counts: map[string]int{}}
	schema := md5.Sum([]byte("schema"))
	cl.schema = schema[:]
	for i := 0; i < max(cfg.nodes, 1); i++ {
		// Each node has an address of its own in the loopback range: the
		// driver's host selection policies tell nodes apart by address.
		addr := fmt.Sprintf("127.0.0.%d:0", i+1)
		var ln net.Listener
		var err error
		if cfg.tls != nil {
			ln, err = tls.Listen("tcp", addr, cfg.tls)
		} else {
			ln, err = net.Listen("tcp", addr)
		}
		if err != nil {
			cl.Close()
			return nil, err
		}
		id := md5.Sum([]byte("host-" + strconv.Itoa(i) + "-" + ln.Addr().String()))
		dc := "datacenter1"
		if len(cfg.dcs) > 0 {
			dc = cfg.dcs[i%len(cfg.dcs)]
		}
		s := &Server{cluster: cl, index: i, ln: ln, hostID: id[:], dc: dc, conns: map[net.Conn]struct{}{}}
		cl.nodes = append(cl.nodes, s)
	}
	for _, s := range cl.nodes {
		s.wg.Add(1)
		go s.serve()
	}
	return cl, nil
}

// Nodes returns the cluster's nodes.
func (cl *Cluster) Nodes() []*Server { return cl.nodes }

// Addrs returns the nodes' host:port addresses.
func (cl *Cluster) Addrs() []string {
	var out []string
	for _, s := range cl.nodes {
		out = append(out, s.Addr())
	}
	return out
}

// Store returns the cluster's data.
func (cl *Cluster) Store() *Store { return cl.store }

// Close stops every node.
func (cl *Cluster) Close() {
	for _, s := range cl.nodes {
		s.Close()
	}
}

// Exec runs statements directly against the store (schema set-up in
// tests), without a connection.
func (cl *Cluster) Exec(queries ...string) error {
	for _, q := range queries {
		st, err := parse(q)
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		if len(st.markers) > 0 {
			return fmt.Errorf("%s: Exec takes no bind markers", q)
		}
		if _, err := cl.store.apply(&bound{st: st}); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

func (cl *Cluster) addPrepared(id []byte, p *preparedStmt) {
	cl.pmu.Lock()
	defer cl.pmu.Unlock()
	cl.prepStmt[string(id)] = p
}

func (cl *Cluster) prepared(id []byte) (*preparedStmt, bool) {
	cl.pmu.Lock()
	defer cl.pmu.Unlock()
	p, ok := cl.prepStmt[string(id)]
	return p, ok
}

// ForgetPrepared drops every prepared statement, as a node restart does:
// the next EXECUTE of one is answered Unprepared.
func (cl *Cluster) ForgetPrepared() {
	cl.pmu.Lock()
	defer cl.pmu.Unlock()
	cl.prepStmt = map[string]*preparedStmt{}
}

// ---- Faults ----

// Fault is an injected failure of the statements whose text contains
// Match (case-insensitive; "" matches every data statement).
type Fault struct {
	Match string
	// Code is the error the server answers with: CodeWriteTimeout,
	// CodeUnavailable, CodeReadTimeout, CodeOverloaded, CodeUnauthorized,
	// CodeSyntax... 0: no error (only Delay).
	Code int32
	// Applied: the statement takes effect before the error is sent (a
	// write that timed out at the coordinator but reached the replicas).
	Applied bool
	// Times is how many matching statements fail (0: one; negative: all
	// until Clear).
	Times int
	// Skip lets this many matching statements through before the fault
	// starts.
	Skip int
	// Delay is waited before the statement is run.
	Delay time.Duration
	// Drop closes the connection instead of answering.
	Drop bool
	// WriteType of a write timeout (default "SIMPLE"; "BATCH", "BATCH_LOG",
	// "COUNTER", "UNLOGGED_BATCH").
	WriteType string
}

var errDrop = errors.New("connection dropped by an injected fault")

// Inject adds a fault.
func (cl *Cluster) Inject(f Fault) {
	cl.fmu.Lock()
	defer cl.fmu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	f.Match = strings.ToLower(f.Match)
	cl.faults = append(cl.faults, &f)
}

// Clear removes every fault.
func (cl *Cluster) Clear() {
	cl.fmu.Lock()
	defer cl.fmu.Unlock()
	cl.faults = nil
}

// Count is how many statements whose text contains match
// (case-insensitive) the cluster ran or failed, as they arrived.
func (cl *Cluster) Count(match string) int {
	cl.fmu.Lock()
	defer cl.fmu.Unlock()
	return cl.counts[strings.ToLower(match)]
}

// CountStatements makes the cluster count the statements containing
// match (see Count).
func (cl *Cluster) CountStatements(match string) {
	cl.fmu.Lock()
	defer cl.fmu.Unlock()
	if _, ok := cl.counts[strings.ToLower(match)]; !ok {
		cl.counts[strings.ToLower(match)] = 0
	}
}

// run applies fn under the faults that match query.
func (cl *Cluster) run(query string, data bool, fn func() (*result, error)) (*result, error) {
	lq := strings.ToLower(query)
	cl.fmu.Lock()
	for m := range cl.counts {
		if strings.Contains(lq, m) {
			cl.counts[m]++
		}
	}
	var f *Fault
	if data {
		for i, x := range cl.faults {
			if x.Match == "" || strings.Contains(lq, x.Match) {
				if x.Skip > 0 {
					x.Skip--
					continue
				}
				f = x
				if x.Times > 0 {
					x.Times--
					if x.Times == 0 {
						cl.faults = append(cl.faults[:i:i], cl.faults[i+1:]...)
					}
				}
				break
			}
		}
	}
	cl.fmu.Unlock()
	if f == nil {
		return fn()
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	if f.Applied || f.Code == 0 {
		res, err := fn()
		if err != nil || f.Code == 0 {
			return res, err
		}
	}
	if f.Drop {
		return nil, errDrop
	}
	return nil, faultError(f)
}

func faultError(f *Fault) *cqlError {
	w := writer{}
	const localQuorum = 0x0006
	switch f.Code {
	case CodeUnavailable:
		w.short(localQuorum)
		w.int_(2)
		w.int_(1)
		return &cqlError{code: f.Code, msg: "Cannot achieve consistency level LOCAL_QUORUM", extra: w.b}
	case CodeWriteTimeout:
		wt := f.WriteType
		if wt == "" {
			wt = "SIMPLE"
		}
		w.short(localQuorum)
		w.int_(1)
		w.int_(2)
		w.string_(wt)
		return &cqlError{code: f.Code, msg: "Operation timed out - received only 1 responses.", extra: w.b}
	case CodeReadTimeout:
		w.short(localQuorum)
		w.int_(1)
		w.int_(2)
		w.byte_(0)
		return &cqlError{code: f.Code, msg: "Operation timed out - received only 1 responses.", extra: w.b}
	case CodeUnauthorized:
		return &cqlError{code: f.Code, msg: "User sluice has no MODIFY permission on <table> or any of its parents"}
	case CodeSyntax:
		return &cqlError{code: f.Code, msg: "line 1:0 injected syntax error"}
	case CodeInvalid:
		return &cqlError{code: f.Code, msg: "injected invalid request"}
	}
	return &cqlError{code: f.Code, msg: fmt.Sprintf("injected error 0x%04x", f.Code)}
}
