package kinesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// The tests run against kinesis-local (kinesis-mock built for Node), which
// scripts/kinesis-emulator installs from the npm registry into a cache
// directory. One emulator serves every test of the package process; it is
// stopped when the tests end (emulatorStop from TestMain).

var (
	emuOnce sync.Once
	emuAddr string
	emuErr  error
	emuCmd  *exec.Cmd
)

// emulator returns the endpoint (http://127.0.0.1:port) of the package's
// emulator, starting it at the first call. When it cannot be had, the test
// fails under CI and is skipped otherwise, saying how to get it.
func emulator(t testing.TB) string {
	t.Helper()
	emuOnce.Do(func() { emuAddr, emuErr = startEmulator() })
	if emuErr != nil {
		msg := fmt.Sprintf("kinesis emulator not available: %v (it needs node and npm and the npm registry: scripts/kinesis-emulator install)", emuErr)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return emuAddr
}

func startEmulator() (string, error) {
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "kinesis-emulator"))
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	inst := exec.Command("bash", script, "install")
	inst.Stderr = &stderr
	out, err := inst.Output()
	if err != nil {
		return "", fmt.Errorf("%s install: %v: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	home := strings.TrimSpace(string(out))
	port, err := freePort()
	if err != nil {
		return "", err
	}
	tlsPort, err := freePort()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("node", "main.js")
	cmd.Dir = home
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("KINESIS_MOCK_PLAIN_PORT=%d", port),
		fmt.Sprintf("KINESIS_MOCK_TLS_PORT=%d", tlsPort),
		"LOG_LEVEL=ERROR", "SHOULD_PERSIST_DATA=false",
		"CREATE_STREAM_DURATION=50ms", "UPDATE_SHARD_COUNT_DURATION=50ms",
		"SPLIT_SHARD_DURATION=50ms", "MERGE_SHARDS_DURATION=50ms", "DELETE_STREAM_DURATION=50ms",
		"SHARD_LIMIT=1000")
	logf, err := os.CreateTemp("", "kinesis-emulator-*.log")
	if err != nil {
		return "", err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	emuSysProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start node: %w", err)
	}
	emuCmd = cmd
	addr := fmt.Sprintf("http://127.0.0.1:%d", port)
	cl := testClient(addr)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cl.ListStreams(ctx, &kinesis.ListStreamsInput{})
		cancel()
		if err == nil {
			// node keeps writing to the open file; only a failed start
			// shows its log.
			_ = os.Remove(logf.Name())
			return addr, nil
		}
		if time.Now().After(deadline) {
			emulatorStop()
			b, _ := os.ReadFile(logf.Name())
			_ = os.Remove(logf.Name())
			return "", fmt.Errorf("the emulator did not answer on %s within 60s: %v; its log: %s", addr, err, tailString(string(b), 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// emulatorStop stops the package's emulator, if one was started.
func emulatorStop() {
	if emuCmd != nil && emuCmd.Process != nil {
		_ = emuCmd.Process.Kill()
		_ = emuCmd.Wait()
		emuCmd = nil
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// testClient is a raw SDK client of the emulator.
func testClient(endpoint string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
}

// createStream creates a stream of n shards and waits until it is active.
func createStream(t testing.TB, endpoint, name string, shards int32) {
	t.Helper()
	cl := testClient(endpoint)
	ctx := context.Background()
	if _, err := cl.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	waitActive(t, cl, name)
}

func waitActive(t testing.TB, cl *kinesis.Client, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := cl.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			t.Fatalf("describe stream %s: %v", name, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not active after 30s (last error %v)", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
