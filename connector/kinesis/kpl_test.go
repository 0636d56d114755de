package kinesis

import (
	"bytes"
	"crypto/md5"
	"errors"
	"testing"
)

func TestDeaggregate(t *testing.T) {
	recs := []subRecord{{"a", []byte("one")}, {"b", []byte("")}, {"a", []byte("three")}}
	agg := aggregate(recs)
	got, err := deaggregate(agg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("got %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if got[i].PartitionKey != recs[i].PartitionKey || !bytes.Equal(got[i].Data, recs[i].Data) {
			t.Errorf("record %d: got %q/%q, want %q/%q", i, got[i].PartitionKey, got[i].Data, recs[i].PartitionKey, recs[i].Data)
		}
	}

	// Corrupt protobuf under a matching digest.
	body := []byte{0x1a, 0x05, 0x08, 0x07, 0x1a, 0x01, 'x'} // record with key index 7, no keys
	bad := append(append(append([]byte(nil), kplMagic...), body...), md5sum(body)...)
	for _, tc := range []struct {
		name  string
		data  []byte
		plain bool
	}{
		{"plain", []byte("hello"), true},
		{"magic only", kplMagic, true},
		{"digest mismatch", append(append([]byte(nil), agg[:len(agg)-1]...), agg[len(agg)-1]^1), true},
		{"key index out of range", bad, false},
	} {
		_, err := deaggregate(tc.data)
		if plain := errors.Is(err, errNotAggregated); plain != tc.plain || err == nil {
			t.Errorf("%s: err %v, want plain=%v", tc.name, err, tc.plain)
		}
	}
}

func md5sum(b []byte) []byte { s := md5.Sum(b); return s[:] }

// FuzzDeaggregate: the decoder of network input never panics, and what it
// decodes encodes back to the same user records.
func FuzzDeaggregate(f *testing.F) {
	f.Add(aggregate([]subRecord{{"k", []byte("v")}}))
	f.Add(aggregate([]subRecord{{"a", []byte("1")}, {"b", []byte("22")}, {"a", nil}}))
	f.Add([]byte("plain"))
	f.Add(append(append([]byte(nil), kplMagic...), md5sum(nil)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := deaggregate(b)
		if err != nil {
			return
		}
		again, err := deaggregate(aggregate(recs))
		if err != nil {
			t.Fatalf("re-encoded records do not decode: %v", err)
		}
		if len(again) != len(recs) {
			t.Fatalf("%d records re-decode as %d", len(recs), len(again))
		}
		for i := range recs {
			if again[i].PartitionKey != recs[i].PartitionKey || !bytes.Equal(again[i].Data, recs[i].Data) {
				t.Fatalf("record %d changed on re-encoding", i)
			}
		}
	})
}

// FuzzDeaggregateBody feeds arbitrary protobuf bodies under a valid magic
// and digest, which the plain fuzz target rarely reaches.
func FuzzDeaggregateBody(f *testing.F) {
	f.Add([]byte{0x0a, 0x01, 'k', 0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 'v'})
	f.Add([]byte{0x1a, 0x05, 0x08, 0x07, 0x1a, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, body []byte) {
		b := append(append(append([]byte(nil), kplMagic...), body...), md5sum(body)...)
		_, _ = deaggregate(b)
	})
}
