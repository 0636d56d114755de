// Command fakepubsub runs Google's in-process Pub/Sub fake (pstest) as a
// server, for trying jobs that use the pubsub connector without Google
// Cloud (it is a test double: no persistence, no push subscriptions). It
// creates the topics and subscriptions named by its flags, prints the
// PUBSUB_EMULATOR_HOST to export, and publishes each line of its standard
// input to -publish, if given, as one message.
//
//	go run ./connector/pubsub/internal/fakepubsub -addr localhost:8085 \
//	  -project demo -topic orders -subscription orders -publish orders < orders.jsonl
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	addr := flag.String("addr", "localhost:8085", "host:port to listen on")
	project := flag.String("project", "demo", "project of the topics and subscriptions")
	topics := flag.String("topic", "", "comma-separated topics to create")
	subs := flag.String("subscription", "", "comma-separated subscriptions to create, of the topic of the same position (or the first topic)")
	ackDeadline := flag.Duration("ack-deadline", 10*time.Second, "ack deadline of the subscriptions (at least 1s)")
	publish := flag.String("publish", "", "topic to publish the lines of standard input to")
	flag.Parse()
	if *ackDeadline < time.Second {
		log.Fatal("-ack-deadline must be at least 1s")
	}
	pstest.SetMinAckDeadline(time.Second)
	srv := pstest.NewServerWithAddress(*addr)
	defer srv.Close()
	ctx := context.Background()
	opts := []option.ClientOption{option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
	top, err := vkit.NewTopicAdminClient(ctx, opts...)
	if err != nil {
		log.Fatal(err)
	}
	sub, err := vkit.NewSubscriptionAdminClient(ctx, opts...)
	if err != nil {
		log.Fatal(err)
	}
	name := func(kind, id string) string { return "projects/" + *project + "/" + kind + "/" + id }
	tl := split(*topics)
	for _, t := range tl {
		if _, err := top.CreateTopic(ctx, &pubsubpb.Topic{Name: name("topics", t)}); err != nil {
			log.Fatalf("create topic %s: %v", t, err)
		}
	}
	for i, s := range split(*subs) {
		if len(tl) == 0 {
			log.Fatal("-subscription needs -topic")
		}
		t := tl[0]
		if i < len(tl) {
			t = tl[i]
		}
		if _, err := sub.CreateSubscription(ctx, &pubsubpb.Subscription{Name: name("subscriptions", s), Topic: name("topics", t),
			AckDeadlineSeconds: int32(*ackDeadline / time.Second)}); err != nil {
			log.Fatalf("create subscription %s: %v", s, err)
		}
	}
	fmt.Printf("PUBSUB_EMULATOR_HOST=%s\n", srv.Addr)
	if *publish != "" {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 10<<20)
		n := 0
		for sc.Scan() {
			srv.Publish(name("topics", *publish), append([]byte(nil), sc.Bytes()...), nil)
			n++
		}
		if err := sc.Err(); err != nil {
			log.Fatal(err)
		}
		log.Printf("published %d messages to %s", n, *publish)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

func split(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
