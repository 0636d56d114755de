// Package socket reads and writes newline-delimited text over TCP.
//
// The source connects to a server and emits every line it receives: it is
// at-most-once (lines sent while the job is down or restarting are lost,
// and nothing is replayed), reconnecting with exponential backoff when the
// connection drops. It runs in one subtask.
//
// The sink connects to a server and writes one line per record:
// at-least-once, flushed on every checkpoint barrier; on a write error it
// reconnects and writes the unflushed lines again (the receiver may see a
// line twice). TCP has no application-level acknowledgement: a write the
// kernel accepted counts as sent. To narrow that gap, every flush ends with
// a short probe (CloseProbe) that notices a receiver which closed or
// reset the connection and then writes the lines again on a new one. A
// receiver that crashes after the probe, with lines unread in its socket
// buffer, can still lose them; use a sink with acknowledgements (Kafka,
// files) where that matters.
package socket
