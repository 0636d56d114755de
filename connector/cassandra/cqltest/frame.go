package cqltest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// The framing of the CQL native protocol, version 4: a 9-byte header
// (version, flags, stream, opcode, body length) and a body made of the
// protocol's notations ([int], [short], [string], [long string], [bytes],
// [short bytes], [string list], [string map], [value]).

// Opcodes.
const (
	opError        byte = 0x00
	opStartup      byte = 0x01
	opReady        byte = 0x02
	opAuthenticate byte = 0x03
	opOptions      byte = 0x05
	opSupported    byte = 0x06
	opQuery        byte = 0x07
	opResult       byte = 0x08
	opPrepare      byte = 0x09
	opExecute      byte = 0x0A
	opRegister     byte = 0x0B
	opEvent        byte = 0x0C
	opBatch        byte = 0x0D
	opAuthResponse byte = 0x0F
	opAuthSuccess  byte = 0x10
)

const (
	headerLen = 9
	// MaxFrameBody is the largest frame body the server reads: Cassandra's
	// default native_transport_max_frame_size (256 MiB) is far more than a
	// test needs.
	MaxFrameBody = 16 << 20
	protoVersion = 4
)

// frame is one request or response.
type frame struct {
	version byte // without the response bit
	flags   byte
	stream  int16
	opcode  byte
	body    []byte
}

var errBadFrame = errors.New("malformed frame")

// protocolVersionError is a request whose version the server does not
// speak; the server answers with a protocol error naming its version.
type protocolVersionError struct {
	version byte
	stream  int16
}

func (e *protocolVersionError) Error() string {
	return fmt.Sprintf("Invalid or unsupported protocol version (%d); supported versions are (4/v4)", e.version)
}

// readFrame reads one frame of a client. A body longer than max is an
// error.
func readFrame(r io.Reader, max int) (frame, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{version: h[0] & 0x7f, flags: h[1], stream: int16(binary.BigEndian.Uint16(h[2:4])), opcode: h[4]}
	if h[0]&0x80 != 0 {
		return frame{}, fmt.Errorf("%w: a response frame from a client", errBadFrame)
	}
	n := binary.BigEndian.Uint32(h[5:9])
	if n > uint32(max) {
		return frame{}, fmt.Errorf("%w: body of %d bytes exceeds %d", errBadFrame, n, max)
	}
	f.body = make([]byte, n)
	if _, err := io.ReadFull(r, f.body); err != nil {
		return frame{}, err
	}
	if f.version != protoVersion {
		return f, &protocolVersionError{version: f.version, stream: f.stream}
	}
	if f.flags&0x01 != 0 {
		return f, fmt.Errorf("%w: compressed frame, but no compression was agreed", errBadFrame)
	}
	return f, nil
}

// appendFrame appends a response frame.
func appendFrame(b []byte, version byte, stream int16, opcode byte, body []byte) []byte {
	b = append(b, 0x80|version, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(stream))
	b = append(b, opcode)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// reader decodes the notations of a body. The first error sticks: later
// reads return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or invalid %s", errBadFrame, what)
	}
	r.b = nil
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte_(what string) byte {
	v := r.take(1, what)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) short(what string) uint16 {
	v := r.take(2, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (r *reader) int_(what string) int32 {
	v := r.take(4, what)
	if v == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(v))
}

func (r *reader) long(what string) int64 {
	v := r.take(8, what)
	if v == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func (r *reader) string_(what string) string {
	n := r.short(what)
	return string(r.take(int(n), what))
}

func (r *reader) longString(what string) string {
	n := r.int_(what)
	if n < 0 {
		r.fail(what)
		return ""
	}
	return string(r.take(int(n), what))
}

func (r *reader) shortBytes(what string) []byte {
	n := r.short(what)
	return r.take(int(n), what)
}

// value reads a [value]: nil for null (-1) and unset (-2), which the
// server treats alike.
func (r *reader) value(what string) (v []byte, null bool) {
	n := r.int_(what)
	if r.err != nil {
		return nil, false
	}
	if n < 0 {
		if n < -2 {
			r.fail(what)
		}
		return nil, true
	}
	v = r.take(int(n), what)
	if v == nil && r.err == nil {
		v = []byte{}
	}
	return v, false
}

func (r *reader) stringMap(what string) map[string]string {
	n := int(r.short(what))
	m := make(map[string]string, min(n, 64))
	for i := 0; i < n && r.err == nil; i++ {
		k := r.string_(what)
		m[k] = r.string_(what)
	}
	return m
}

func (r *reader) stringList(what string) []string {
	n := int(r.short(what))
	var l []string
	for i := 0; i < n && r.err == nil; i++ {
		l = append(l, r.string_(what))
	}
	return l
}

// done reports an error, or trailing bytes.
func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the %s", errBadFrame, len(r.b), what)
	}
	return r.err
}

// Query parameters flags.
const (
	qfValues            = 0x01
	qfSkipMetadata      = 0x02
	qfPageSize          = 0x04
	qfPagingState       = 0x08
	qfSerialConsistency = 0x10
	qfDefaultTimestamp  = 0x20
	qfValueNames        = 0x40
)

// queryParams are the parameters of QUERY and EXECUTE.
type queryParams struct {
	consistency uint16
	flags       byte
	values      [][]byte // nil for null/unset
	nulls       []bool
	names       []string // with qfValueNames
	pageSize    int32
	pagingState []byte
	serial      uint16
	timestamp   int64
}

func (r *reader) queryParams() queryParams {
	var p queryParams
	p.consistency = r.short("consistency")
	p.flags = r.byte_("query flags")
	if p.flags&qfValues != 0 {
		n := int(r.short("value count"))
		for i := 0; i < n && r.err == nil; i++ {
			if p.flags&qfValueNames != 0 {
				p.names = append(p.names, r.string_("value name"))
			}
			v, null := r.value("value")
			p.values = append(p.values, v)
			p.nulls = append(p.nulls, null)
		}
	}
	if p.flags&qfPageSize != 0 {
		p.pageSize = r.int_("page size")
	}
	if p.flags&qfPagingState != 0 {
		n := r.int_("paging state")
		if n >= 0 {
			p.pagingState = r.take(int(n), "paging state")
		}
	}
	if p.flags&qfSerialConsistency != 0 {
		p.serial = r.short("serial consistency")
	}
	if p.flags&qfDefaultTimestamp != 0 {
		p.timestamp = r.long("timestamp")
	}
	return p
}

// queryRequest is the body of QUERY.
type queryRequest struct {
	query  string
	params queryParams
}

// executeRequest is the body of EXECUTE.
type executeRequest struct {
	id     []byte
	params queryParams
}

// batchRequest is the body of BATCH.
type batchRequest struct {
	typ         byte // 0 logged, 1 unlogged, 2 counter
	entries     []batchEntry
	consistency uint16
	flags       byte
	serial      uint16
	timestamp   int64
}

type batchEntry struct {
	query  string // kind 0
	id     []byte // kind 1
	values [][]byte
	nulls  []bool
}

// request is a decoded request body: one of the types above, a
// map[string]string (STARTUP), []string (REGISTER), []byte (AUTH_RESPONSE),
// string (PREPARE) or nil (OPTIONS).
func decodeRequest(f frame) (any, error) {
	r := &reader{b: f.body}
	var v any
	var what string
	switch f.opcode {
	case opOptions:
		what = "OPTIONS"
	case opStartup:
		what, v = "STARTUP", r.stringMap("STARTUP options")
	case opRegister:
		what, v = "REGISTER", r.stringList("REGISTER events")
	case opAuthResponse:
		what = "AUTH_RESPONSE"
		tok, _ := r.value("token")
		v = tok
	case opPrepare:
		what, v = "PREPARE", r.longString("query")
		// v5 adds flags; v4 has none.
	case opQuery:
		what = "QUERY"
		q := queryRequest{query: r.longString("query")}
		q.params = r.queryParams()
		v = q
	case opExecute:
		what = "EXECUTE"
		e := executeRequest{id: r.shortBytes("statement id")}
		e.params = r.queryParams()
		v = e
	case opBatch:
		what = "BATCH"
		b := batchRequest{typ: r.byte_("batch type")}
		if b.typ > 2 {
			return nil, fmt.Errorf("%w: batch type %d", errBadFrame, b.typ)
		}
		n := int(r.short("batch size"))
		for i := 0; i < n && r.err == nil; i++ {
			var e batchEntry
			switch kind := r.byte_("batch entry kind"); kind {
			case 0:
				e.query = r.longString("batch query")
			case 1:
				e.id = r.shortBytes("batch statement id")
			default:
				return nil, fmt.Errorf("%w: batch entry kind %d", errBadFrame, kind)
			}
			m := int(r.short("batch value count"))
			for j := 0; j < m && r.err == nil; j++ {
				val, null := r.value("batch value")
				e.values = append(e.values, val)
				e.nulls = append(e.nulls, null)
			}
			b.entries = append(b.entries, e)
		}
		b.consistency = r.short("batch consistency")
		b.flags = r.byte_("batch flags")
		if b.flags&qfSerialConsistency != 0 {
			b.serial = r.short("serial consistency")
		}
		if b.flags&qfDefaultTimestamp != 0 {
			b.timestamp = r.long("timestamp")
		}
		if b.flags&qfValueNames != 0 {
			return nil, fmt.Errorf("%w: named values in a batch are not supported by protocol v4", errBadFrame)
		}
		v = b
	default:
		return nil, fmt.Errorf("%w: opcode 0x%02x is not a request", errBadFrame, f.opcode)
	}
	if err := r.done(what); err != nil {
		return nil, err
	}
	return v, nil
}

// writer encodes the notations of a body.
type writer struct{ b []byte }

func (w *writer) byte_(v byte)   { w.b = append(w.b, v) }
func (w *writer) short(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) int_(v int32)   { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *writer) string_(s string) {
	if len(s) > math.MaxUint16 {
		s = s[:math.MaxUint16]
	}
	w.short(uint16(len(s)))
	w.b = append(w.b, s...)
}
func (w *writer) shortBytes(v []byte) { w.short(uint16(len(v))); w.b = append(w.b, v...) }
func (w *writer) bytes(v []byte) {
	if v == nil {
		w.int_(-1)
		return
	}
	w.int_(int32(len(v)))
	w.b = append(w.b, v...)
}
func (w *writer) stringList(l []string) {
	w.short(uint16(len(l)))
	for _, s := range l {
		w.string_(s)
	}
}
func (w *writer) typ(t Type) {
	w.short(t.ID)
	for _, e := range t.Elem {
		w.typ(e)
	}
}
