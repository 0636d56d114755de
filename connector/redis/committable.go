package redis

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The committable of the exactly-once writer: the commands one subtask
// wrote between two checkpoints, with the fence key they are applied
// under. Format (version 1):
//
//	byte 1
//	uvarint len, fence key
//	varint  prune: fence fields of checkpoints below it may be deleted
//	uvarint number of commands
//	per command: uvarint number of arguments, per argument uvarint len, bytes
//
// The writer state is: byte 1, uvarint len, fence key, varint checkpoint id.
type committable struct {
	fence string
	prune int64
	cmds  [][]string
}

const formatVersion = 1

// errMalformed is the error of data that is not a committable.
var errMalformed = errors.New("malformed redis sink committable")

func (c *committable) encode() []byte {
	n := 16 + len(c.fence)
	for _, cmd := range c.cmds {
		n += 2 + argsSize(cmd)
	}
	b := make([]byte, 0, n)
	b = append(b, formatVersion)
	b = appendString(b, c.fence)
	b = binary.AppendVarint(b, c.prune)
	b = binary.AppendUvarint(b, uint64(len(c.cmds)))
	for _, cmd := range c.cmds {
		b = binary.AppendUvarint(b, uint64(len(cmd)))
		for _, a := range cmd {
			b = appendString(b, a)
		}
	}
	return b
}

func decodeCommittable(b []byte) (*committable, error) {
	d := decoder{b: b}
	if v := d.byte(); v != formatVersion {
		return nil, fmt.Errorf("%w: version %d (this build reads %d)", errMalformed, v, formatVersion)
	}
	c := &committable{fence: d.string(), prune: d.varint()}
	n := d.count(1)
	for i := uint64(0); i < n && d.err == nil; i++ {
		na := d.count(1)
		if na == 0 {
			d.err = errMalformed
			break
		}
		cmd := make([]string, 0, na)
		for j := uint64(0); j < na && d.err == nil; j++ {
			cmd = append(cmd, d.string())
		}
		c.cmds = append(c.cmds, cmd)
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = errMalformed
	}
	if d.err != nil || c.fence == "" {
		return nil, errMalformed
	}
	return c, nil
}

// writerState is one entry of the exactly-once writer's state.
type writerState struct {
	fence      string
	checkpoint int64
}

func (s writerState) encode() []byte {
	b := []byte{formatVersion}
	b = appendString(b, s.fence)
	return binary.AppendVarint(b, s.checkpoint)
}

func decodeWriterState(b []byte) (writerState, error) {
	d := decoder{b: b}
	if v := d.byte(); v != formatVersion {
		return writerState{}, fmt.Errorf("malformed redis sink writer state: version %d (this build reads %d)", v, formatVersion)
	}
	s := writerState{fence: d.string(), checkpoint: d.varint()}
	if d.err != nil || len(d.b) > 0 || s.fence == "" {
		return writerState{}, errors.New("malformed redis sink writer state")
	}
	return s, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errMalformed
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errMalformed
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errMalformed
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items each taking at least min bytes, refusing
// more than the rest of the data can hold.
func (d *decoder) count(min int) uint64 {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.err = errMalformed
		return 0
	}
	return n
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errMalformed
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
