package redis

import (
	"strconv"
	"strings"
	"sync"
)

// Hash slots of Redis Cluster: a key's slot is CRC16 (XMODEM) of its hash
// tag (the part between the first { and the next }, when not empty) or of
// the whole key, modulo 16384.

const numSlots = 16384

// slotOf returns the hash slot of key.
func slotOf(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return int(crc16(key) % numSlots)
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0).
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

var (
	tagsOnce sync.Once
	tags     [numSlots]string
)

// slotTag returns a short hash tag whose slot is slot: a key holding
// "{" + slotTag(slot) + "}" is in that slot.
func slotTag(slot int) string {
	tagsOnce.Do(func() {
		left := numSlots
		for i := 0; left > 0; i++ {
			t := strconv.FormatInt(int64(i), 36)
			if s := int(crc16(t) % numSlots); tags[s] == "" {
				tags[s] = t
				left--
			}
		}
	})
	return tags[slot]
}

// cmdKey returns the key (or channel) a command acts on.
func cmdKey(cmd []string) string {
	if len(cmd) < 2 {
		return ""
	}
	return cmd[1]
}
