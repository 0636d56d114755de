package httpstream

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// Event is one message of a stream.
type Event struct {
	// Data is the message: an NDJSON line, or a server-sent event's data
	// (its data lines joined by LF).
	Data []byte
	// Type is a server-sent event's type ("message" when the event names
	// none); empty for NDJSON.
	Type string
	// ID is a server-sent event's last event ID: the id of this event, or
	// of the last event before it that had one. Empty for NDJSON.
	ID string
}

// frame is what a parser makes of a line: nothing yet, an event, an
// event that cannot be a record (bad), or (SSE) a new last event ID
// without an event (idOnly).
type frame struct {
	Event
	ok     bool   // a frame is complete
	idOnly bool   // only the last event ID changed
	bad    string // why the event cannot be a record
}

// parser turns the lines of one framing into frames.
type parser interface {
	// line handles one line (without its ending); tooLong says it was cut
	// at the maximum length. Data in the returned frame is only valid
	// until the next call.
	line(b []byte, tooLong bool) frame
}

// ndjsonParser frames newline-delimited JSON: every line that is not
// blank is an event; blank lines are keep-alives.
type ndjsonParser struct{ max int }

func (p *ndjsonParser) line(b []byte, tooLong bool) frame {
	if tooLong {
		return frame{ok: true, Event: Event{Data: b}, bad: fmt.Sprintf("line longer than %d bytes (MaxMessageBytes)", p.max)}
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return frame{}
	}
	return frame{ok: true, Event: Event{Data: b}}
}

// sseParser frames server-sent events as the WHATWG HTML standard's
// event stream interpretation does (section 9.2.6): fields data, event,
// id and retry; lines starting with a colon are comments; a field
// without a colon has an empty value; one space after the colon is
// dropped; a blank line dispatches the event; an event without data is
// not dispatched, but its id still sets the last event ID; an id holding
// NUL is ignored; retry sets the reconnection time when it is all ASCII
// digits; unknown fields are ignored; a byte order mark at the start is
// dropped. An event that is incomplete when the stream ends is dropped
// (the caller stops calling line).
type sseParser struct {
	max       int    // the longest data kept
	data      []byte // the data buffer, each data line followed by LF
	eventType string
	lastID    string // the last event ID buffer
	sentID    string // the last event ID of the last frame returned
	retry     time.Duration
	retrySet  bool // retry holds a value the server sent
	tooLong   bool // the event being read exceeds max
	started   bool // a line was seen (for the byte order mark)
}

func (p *sseParser) line(b []byte, tooLong bool) frame {
	if !p.started {
		p.started = true
		b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	}
	if tooLong {
		p.tooLong = true
	}
	if len(b) == 0 {
		return p.dispatch()
	}
	if b[0] == ':' {
		return frame{}
	}
	field, value := b, []byte(nil)
	if i := bytes.IndexByte(b, ':'); i >= 0 {
		field, value = b[:i], b[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if len(p.data)+len(value)+1 > p.max+1 {
			p.tooLong = true
			room := max(p.max-len(p.data), 0)
			value = value[:min(room, len(value))]
		}
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "event":
		p.eventType = string(value)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.lastID = string(value)
		}
	case "retry":
		if ms, ok := digits(value); ok {
			p.retry, p.retrySet = time.Duration(ms)*time.Millisecond, true
		}
	}
	return frame{}
}

// dispatch ends the event at a blank line.
func (p *sseParser) dispatch() frame {
	defer func() {
		p.data, p.eventType, p.tooLong = p.data[:0], "", false
	}()
	if len(p.data) == 0 {
		switch {
		case p.tooLong:
			p.sentID = p.lastID
			return frame{ok: true, bad: fmt.Sprintf("event longer than %d bytes (MaxMessageBytes)", p.max), Event: Event{ID: p.lastID, Type: p.typ()}}
		case p.lastID != p.sentID:
			p.sentID = p.lastID
			return frame{ok: true, idOnly: true, Event: Event{ID: p.lastID}}
		}
		return frame{}
	}
	p.sentID = p.lastID
	f := frame{ok: true, Event: Event{Data: p.data[:len(p.data)-1], Type: p.typ(), ID: p.lastID}}
	if p.tooLong {
		f.bad = fmt.Sprintf("event longer than %d bytes (MaxMessageBytes)", p.max)
	}
	return f
}

func (p *sseParser) typ() string {
	if p.eventType == "" {
		return "message"
	}
	return p.eventType
}

// digits parses a retry value: ASCII digits only. A value too large for
// an int64 of milliseconds is capped.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n > int64(time.Duration(1<<62)/time.Millisecond) {
		return int64(time.Duration(1<<62) / time.Millisecond), true
	}
	return n, true
}
