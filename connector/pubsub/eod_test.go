package pubsub

import (
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ackResults fails the first Acknowledge request as Pub/Sub does on a
// subscription with exactly-once delivery: the first ack id expired, the
// others failed for a moment.
type ackResults struct {
	mu      sync.Mutex
	calls   int
	expired string
}

func (a *ackResults) React(req any) (bool, any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	r := req.(*pubsubpb.AcknowledgeRequest)
	if a.calls > 1 || len(r.AckIds) == 0 {
		return false, nil, nil
	}
	md := map[string]string{}
	for i, id := range r.AckIds {
		if i == 0 {
			md[id] = invalidAckID
			a.expired = id
		} else {
			md[id] = "TRANSIENT_FAILURE_UNORDERED_ACK_ID"
		}
	}
	st, err := status.New(codes.InvalidArgument, "Some acknowledgement ids in the request were invalid.").
		WithDetails(&errdetails.ErrorInfo{Reason: "EXACTLY_ONCE_ACKID_FAILURE", Domain: "pubsub.googleapis.com", Metadata: md})
	if err != nil {
		panic(err)
	}
	return true, nil, st.Err()
}

// TestExactlyOnceDeliveryAckResults: on a subscription with exactly-once
// delivery, a transient failure of an acknowledgement is retried, and an
// ack id refused as expired is counted and its message comes again (the
// redelivery that deduplication by message id drops).
func TestExactlyOnceDeliveryAckResults(t *testing.T) {
	res := &ackResults{}
	f := newFake(t, pstest.ServerReactorOption{FuncName: "Acknowledge", Reactor: res})
	f.subscription(t, "eod", time.Second, true)
	ids := f.publishN(t, "eod", 0, 3)
	src := fakeSource(t, f, "eod", Messages(), AckDeadline(time.Second))
	r := startReader(t, src, nil)
	defer r.Close()
	out := &output[Message]{}
	pollUntil(t, r, out, 3)
	r.SnapshotReaderState(1)
	r.NotifyCheckpointComplete(1)
	waitFor(t, 5*time.Second, func() bool { _, _, a, _ := f.stats("eod"); return a == 2 }, "the 2 transient failures acknowledged on retry")
	if n := r.expiredAcks.Load(); n != 1 {
		t.Errorf("%d acknowledgements counted as expired, want 1", n)
	}
	// The expired one's message is redelivered (no longer extended).
	pollUntil(t, r, out, 4)
	got := out.got[3].ID
	var expiredMsg string
	for _, m := range f.published("eod") {
		if m.Acks == 0 {
			expiredMsg = m.ID
		}
	}
	if got != expiredMsg || expiredMsg == "" {
		t.Errorf("redelivered %q, want the message whose ack expired %q (of %v)", got, expiredMsg, ids)
	}
	r.SnapshotReaderState(2)
	r.NotifyCheckpointComplete(2)
	waitFor(t, 5*time.Second, func() bool { _, _, a, _ := f.stats("eod"); return a == 3 }, "all acknowledged")
}
