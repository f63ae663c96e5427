// Package s3test runs a real S3-compatible server (versitygw, built by
// scripts/test-s3.sh) for the tests of the S3 archive: store/s3, app and
// e2e. Each Gateway is a versitygw process of its own on a free loopback
// port, serving a temporary directory with bucket Bucket and throwaway
// keys.
package s3test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// The gateway's keys, bucket and region.
const (
	AccessKey = "apptbridgetest"
	SecretKey = "apptbridgetestsecret"
	Bucket    = "archive"
	Region    = "us-east-1"
)

// Gateway is a versitygw process serving a directory over S3.
type Gateway struct {
	t    testing.TB
	bin  string
	dir  string
	addr string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *bytes.Buffer
}

// Start starts versitygw (env APPTBRIDGE_VERSITYGW, else versitygw on
// PATH) with bucket Bucket; it is stopped at cleanup. Without the binary
// the test fails when CI=true and is skipped otherwise.
func Start(t testing.TB) *Gateway {
	t.Helper()
	bin := os.Getenv("APPTBRIDGE_VERSITYGW")
	if bin == "" {
		bin, _ = exec.LookPath("versitygw")
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("versitygw not found: set APPTBRIDGE_VERSITYGW (scripts/test-s3.sh)")
		}
		t.Skip("versitygw not found: set APPTBRIDGE_VERSITYGW or run scripts/test-s3.sh")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	g := &Gateway{t: t, bin: bin, dir: t.TempDir(), addr: addr}
	if err := os.Mkdir(filepath.Join(g.dir, Bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	g.Restart()
	t.Cleanup(g.Stop)
	return g
}

// Endpoint is the gateway's URL (S3_ENDPOINT).
func (g *Gateway) Endpoint() string { return "http://" + g.addr }

// Restart starts the process again after Stop (same port, same data) and
// waits until it listens.
func (g *Gateway) Restart() {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd != nil {
		return
	}
	cmd := exec.Command(g.bin, "--port", g.addr, "--access", AccessKey, "--secret", SecretKey,
		"posix", "--nometa", g.dir)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		g.t.Fatalf("start versitygw: %v", err)
	}
	g.cmd, g.out = cmd, out
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", g.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			g.cmd = nil
			g.t.Fatalf("versitygw did not listen on %s: %s", g.addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the process (an S3 outage); Restart brings it back.
func (g *Gateway) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	g.cmd.Process.Kill()
	g.cmd.Wait()
	g.cmd = nil
}

// Client returns an SDK client for the gateway (path-style, its keys).
func (g *Gateway) Client() *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(g.Endpoint()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		// As the archiver: S3-compatible servers without the newer
		// checksum trailers work.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Objects lists the bucket through the S3 API and returns every object's
// body by key.
func (g *Gateway) Objects(t testing.TB) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	c := g.Client()
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(Bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			r, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(Bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("get %s: %v", *o.Key, err)
			}
			b, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				t.Fatalf("get %s: %v", *o.Key, err)
			}
			out[*o.Key] = b
		}
	}
	return out
}

// Keys returns m's keys, sorted.
func Keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Env is the environment that points `apptbridge serve` (or an App) at
// the gateway: S3_BUCKET, S3_ENDPOINT, AWS_REGION and the gateway's keys
// as AWS credentials (no shared config files, no instance metadata).
// CUSTOMER_CODE is left to the caller.
func (g *Gateway) Env() []string {
	return []string{
		"S3_BUCKET=" + Bucket,
		"S3_ENDPOINT=" + g.Endpoint(),
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}
