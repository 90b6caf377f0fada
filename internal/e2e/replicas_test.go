package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// startReplica runs `cairn serve` with extra environment variables and
// waits for it to print its URL. Unlike startServer it may be called from
// several goroutines at once (it reports failures as errors) so that
// replicas start together.
func startReplica(t *testing.T, env []string, args ...string) (*server, error) {
	bin := cairnBinary(t)
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.PID = cmd.Process.Pid
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		l, _ := r.ReadString('\n')
		line <- strings.TrimSpace(l)
		io.Copy(io.Discard, r)
	}()
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "http://127.0.0.1:") {
			return nil, fmt.Errorf("cairn serve printed %q, not its URL; stderr:\n%s", l, s.stderr)
		}
		s.URL = l
	case err := <-s.done:
		return nil, fmt.Errorf("cairn serve exited before listening (%v); stderr:\n%s", err, s.stderr)
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("cairn serve did not print its URL within 60 s; stderr:\n%s", s.stderr)
	}
	return s, nil
}

// kill ends a replica with SIGKILL: no graceful shutdown, as in a crash.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
}

// waitReady polls /readyz until it answers 200.
func waitReady(ctx context.Context, cl *client.Client) error {
	for {
		err := cl.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", cl.BaseURL(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Many replicas behave as one registry (DESIGN.md, "Scale"): three
// `cairn serve` processes start at once on one empty PostgreSQL database
// and one bucket, and all become ready after one migration; 32 writers
// split across two replicas push to one model and get versions 1..32 with
// no gap; aliases moved from both replicas agree with their history; every
// blob pulls back verified (streamed by one replica, redirected to the
// bucket by the other); the audit log is one unbroken hash chain and the
// event feed one gap-free sequence. Then a replica is killed in the middle
// of a multi-part upload and the push finishes through another, sending
// less than the whole file; finally garbage collections on the replicas
// at once keep every referenced blob.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers on PostgreSQL and S3; skipped with -short")
	}
	pgURL := testenv.PostgresURL(t)
	s3cfg := testenv.S3(t)
	auditPub, auditKeyFile := writeAuditKey(t)
	c := ctx(t, 10*time.Minute)
	blobsURL := "s3://" + s3cfg.Bucket + "/registry?" + url.Values{
		"endpoint": {s3cfg.Endpoint}, "region": {s3cfg.Region},
	}.Encode()
	env := []string{
		"AWS_ACCESS_KEY_ID=" + s3cfg.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s3cfg.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"CAIRN_DB=" + pgURL, // the URL carries no password here, but keep it off the command line anyway
		"CAIRN_BLOBS=" + blobsURL,
		// Every replica signs audit checkpoints with the same key; a lease
		// lets one of them write at a time.
		"CAIRN_AUDIT_KEY=" + auditKeyFile,
		"CAIRN_AUDIT_CHECKPOINT_EVERY=8",
		"CAIRN_AUDIT_CHECKPOINT_INTERVAL=1s",
	}

	// Three replicas at once on the empty database.
	cairnBinary(t) // build first, so that the three start together
	extra := [][]string{
		{"--pg-max-conns", "8"},
		{"--pg-max-conns", "8", "--presign-downloads"},
		{"--pg-max-conns", "4"},
	}
	replicas := make([]*server, len(extra))
	errs := make([]error, len(extra))
	var wg sync.WaitGroup
	for i := range extra {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replicas[i], errs[i] = startReplica(t, env, extra[i]...)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	clients := make([]*client.Client, len(replicas))
	for i, r := range replicas {
		clients[i] = client.New(r.URL, client.WithUser(fmt.Sprintf("writer-on-%d", i)))
		if err := waitReady(c, clients[i]); err != nil {
			t.Fatalf("replica %d: %v; stderr:\n%s", i, err, r.stderr)
		}
	}
	checkMigratedOnce(t, c, pgURL)
	a, b := clients[0], clients[1]

	// 32 writers, alternating replicas, one model; each also moves one of
	// four aliases at finalize.
	const writers = 32
	src := t.TempDir()
	contents := make([][]byte, writers)
	var pushWG sync.WaitGroup
	pushErrs := make([]error, writers)
	for i := range writers {
		contents[i] = bytes.Repeat([]byte(fmt.Sprintf("writer %02d weights\n", i)), 4096+i)
		path := filepath.Join(src, fmt.Sprintf("w%02d", i), "model.bin")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, contents[i], 0o644); err != nil {
			t.Fatal(err)
		}
		pushWG.Add(1)
		go func() {
			defer pushWG.Done()
			spec := cairn.VersionSpec{
				Metrics: map[string]float64{"writer": float64(i)},
				Aliases: []string{fmt.Sprintf("group%d", i%4)},
			}
			_, pushErrs[i] = clients[i%2].Push(c, "shared", []string{path}, spec, client.PushOptions{})
		}()
	}
	pushWG.Wait()
	if err := errors.Join(pushErrs...); err != nil {
		t.Fatalf("concurrent pushes: %v", err)
	}

	// Numbering: exactly 1..32, all ready, each writer's file once.
	var versions []*cairn.Version
	for token := ""; ; {
		page, err := a.ListVersions(c, "shared", client.ListRequest{PageSize: 10, PageToken: token, OrderBy: []string{"version ASC"}})
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, page.Items...)
		if token = page.NextToken; token == "" {
			break
		}
	}
	seenWriter := map[int]bool{}
	for i, v := range versions {
		if v.Number != int64(i+1) || v.Status != cairn.StatusReady {
			t.Errorf("version at %d: %s is %s", i, v.Ref(), v.Status)
		}
		seenWriter[int(v.Metrics["writer"])] = true
	}
	if len(versions) != writers || len(seenWriter) != writers {
		t.Fatalf("%d versions from %d writers, want %d of each", len(versions), len(seenWriter), writers)
	}

	// Aliases: both replicas agree, and with the alias's history.
	for g := range 4 {
		alias := fmt.Sprintf("group%d", g)
		fromA, err := a.GetAlias(c, "shared", alias)
		if err != nil {
			t.Fatal(err)
		}
		fromB, err := b.GetAlias(c, "shared", alias)
		if err != nil {
			t.Fatal(err)
		}
		hist, err := b.AliasHistory(c, "shared", alias, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		if fromA.Version != fromB.Version || len(hist.Items) != writers/4 || hist.Items[0].To != fromA.Version {
			t.Errorf("alias %s: %d on A, %d on B, history of %d moves, newest to %d", alias, fromA.Version, fromB.Version, len(hist.Items), hist.Items[0].To)
		}
		v, err := a.Resolve(c, "shared@"+alias)
		if err != nil {
			t.Fatal(err)
		}
		if w := int(v.Metrics["writer"]); w%4 != g {
			t.Errorf("alias %s points at %s, pushed by writer %d (group %d)", alias, v.Ref(), w, w%4)
		}
	}

	// Every blob pulls back verified, through either replica (B redirects
	// to presigned URLs).
	pullAll := func(label string, through ...*client.Client) {
		t.Helper()
		for i, v := range versions {
			dst := t.TempDir()
			if _, err := through[i%len(through)].Pull(c, v.Ref(), dst, client.PullOptions{}); err != nil {
				t.Fatalf("%s: pull %s: %v", label, v.Ref(), err)
			}
			got, err := os.ReadFile(filepath.Join(dst, "model.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if w := int(v.Metrics["writer"]); !bytes.Equal(got, contents[w]) {
				t.Fatalf("%s: %s pulled %d bytes that are not writer %d's", label, v.Ref(), len(got), w)
			}
		}
	}
	blobOut := func(cl *client.Client) int64 {
		return metricSum(t, cl, `cairn_http_bytes_out_total{route="/api/v1/blobs/{digest}"}`)
	}
	aOut, bOut := blobOut(a), blobOut(b)
	pullAll("after the pushes", a, b)
	// A streamed its half of the blobs; B, with presigned downloads,
	// redirected its half to the bucket.
	if da, db := blobOut(a)-aOut, blobOut(b)-bOut; da < int64(len(contents[0]))*writers/2 || db != 0 {
		t.Errorf("blob bytes sent by the replicas during the pulls: %d by A (streaming), %d by B (presigning); want all of A's half and none", da, db)
	}

	// One audit chain and one event sequence, whichever replica wrote:
	// checked here entry by entry, and by the server's own verification,
	// with the checkpoints the replicas signed meanwhile.
	entries := checkAuditChain(t, c, b)
	checkAuditVerifies(t, c, a, auditPub)
	events := checkEventSequence(t, c, a)
	if len(events) != len(entries) {
		t.Errorf("%d events for %d audit entries; every mutation writes one of each", len(events), len(entries))
	}

	// Kill replica A in the middle of a multi-part upload; finish the
	// push through B, which resumes the upload session.
	big := filepath.Join(t.TempDir(), "big.bin")
	bigContent := make([]byte, 40<<20)
	for i := range bigContent {
		bigContent[i] = byte(i*7 + i>>13)
	}
	if err := os.WriteFile(big, bigContent, 0o644); err != nil {
		t.Fatal(err)
	}
	parts := client.PushOptions{Parallel: 1, PartSize: 5 << 20, MultipartThreshold: 5 << 20, Retries: -1}
	// The push through A stops sending once 12 MiB have gone out: two
	// whole parts, answered (with one transfer at a time, the third part
	// is sent only after the second was), and some of the third. A is
	// killed there, mid-part.
	reached, killed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	throughA := parts
	throughA.Progress = func(done, total int64) {
		if done >= 12<<20 {
			once.Do(func() { close(reached) })
			<-killed
		}
	}
	pushed := make(chan error, 1)
	go func() {
		_, err := a.Push(c, "large", []string{big}, cairn.VersionSpec{}, throughA)
		pushed <- err
	}()
	select {
	case <-reached:
	case err := <-pushed:
		t.Fatalf("the push through A ended (%v) before it sent 12 MiB", err)
	}
	replicas[0].kill(t)
	close(killed)
	if err := <-pushed; err == nil {
		t.Fatal("the push through the killed replica succeeded")
	}
	partsIn := func() int64 {
		return metricSum(t, b, `cairn_http_bytes_in_total{route="/api/v1/uploads/{id}/parts/{n}"}`)
	}
	bInBefore := partsIn()
	res, err := b.Push(c, "large", []string{big}, cairn.VersionSpec{}, parts)
	if err != nil {
		t.Fatalf("finishing the push through B: %v", err)
	}
	// A recorded parts 1 and 2 before it died: B receives the other six.
	sent := partsIn() - bInBefore
	if want := int64(len(bigContent)) - 2*(5<<20); sent != want {
		t.Errorf("the resumed push sent B %d bytes of parts of a %d byte file; want %d (all but the two parts A received)", sent, len(bigContent), want)
	}
	t.Logf("resume through B sent %d MiB of %d MiB", sent>>20, len(bigContent)>>20)
	if res.Version.Number != 1 || res.Version.Status != cairn.StatusReady {
		t.Errorf("large: %s is %s, want large@v1 ready", res.Version.Ref(), res.Version.Status)
	}
	dst := t.TempDir()
	if _, err := b.Pull(c, "large@v1", dst, client.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "big.bin")); err != nil || sha256.Sum256(got) != sha256.Sum256(bigContent) {
		t.Fatalf("large@v1 pulled back different bytes (%d, %v)", len(got), err)
	}

	// Garbage collection on the two live replicas at once, with no grace:
	// one runs (the other may find it running), nothing referenced goes.
	gcClients := []*client.Client{b, clients[2]}
	reports := make([]*client.GCReport, len(gcClients))
	gcErrs := make([]error, len(gcClients))
	var gcWG sync.WaitGroup
	for i, cl := range gcClients {
		gcWG.Add(1)
		go func() {
			defer gcWG.Done()
			reports[i], gcErrs[i] = cl.GC(c, client.GCOptions{Delete: true, Grace: time.Nanosecond})
		}()
	}
	gcWG.Wait()
	ran := 0
	for i, err := range gcErrs {
		switch {
		case err == nil:
			ran++
			if reports[i].Referenced < writers+1 {
				t.Errorf("GC on replica %d saw %d referenced blobs, want at least %d", i+1, reports[i].Referenced, writers+1)
			}
		case !cairn.IsCode(err, cairn.ECONFLICT):
			t.Errorf("GC on replica %d: %v", i+1, err)
		}
	}
	if ran == 0 {
		t.Error("neither garbage collection ran")
	}
	pullAll("after garbage collection", b, clients[2])

	// The CLI against a replica: a dry run finds nothing left to collect.
	out, err := exec.Command(cairnBinary(t), "gc", "--url", clients[2].BaseURL(), "--grace", "1ns", "--json").Output()
	if err != nil {
		t.Fatalf("cairn gc: %v", err)
	}
	var dry client.GCReport
	if err := json.Unmarshal(out, &dry); err != nil {
		t.Fatalf("cairn gc --json: %v\n%s", err, out)
	}
	if !dry.DryRun || dry.Candidates != 0 || dry.Referenced < writers+1 {
		t.Errorf("cairn gc after a collection: %s", out)
	}
	checkAuditChain(t, c, clients[2])
	checkAuditVerifies(t, c, clients[2], auditPub)
	checkEventSequence(t, c, clients[2])
}

// writeAuditKey writes a new ed25519 private key as cairn audit keygen
// does (PKCS #8 PEM) and returns its public half and the file's path.
func writeAuditKey(t *testing.T) (ed25519.PublicKey, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "audit-key")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return pub, path
}

// checkAuditVerifies has the server verify the whole chain and its
// checkpoints, and checks every checkpoint's signature with pub: writers
// on several replicas left one chain, and the replicas' checkpoint loops
// signed points of it.
func checkAuditVerifies(t *testing.T, ctx context.Context, cl *client.Client, pub ed25519.PublicKey) {
	t.Helper()
	// The checkpoint loops run every second: wait for a first checkpoint.
	for deadline := time.Now().Add(30 * time.Second); ; {
		page, err := cl.ListAuditCheckpoints(ctx, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no audit checkpoint within 30 s of the writes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	rep, err := cl.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Problem != nil || rep.Entries == 0 || rep.Entries != rep.Head || rep.Checkpoints == 0 || rep.SignaturesChecked != rep.Checkpoints {
		t.Fatalf("audit verify = %+v, problem %+v; want an intact chain with signed checkpoints", rep, rep.Problem)
	}
	page, err := cl.ListAuditCheckpoints(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range page.Items {
		if !cp.Verify(pub) {
			t.Errorf("checkpoint %d does not verify with the replicas' key", cp.Seq)
		}
	}
}

// checkMigratedOnce checks that the schema was migrated exactly once: one
// row per migration in schema_migrations.
func checkMigratedOnce(t *testing.T, ctx context.Context, pgURL string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var rows, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || rows != distinct {
		t.Errorf("schema_migrations has %d rows for %d migrations; want each applied once", rows, distinct)
	}
}

// checkAuditChain reads the whole audit log and checks that it is one
// chain: sequence numbers 1..N, each entry's prev_hash the previous
// entry's hash, each hash recomputed from the entry.
func checkAuditChain(t *testing.T, ctx context.Context, cl *client.Client) []*cairn.AuditEntry {
	t.Helper()
	var all []*cairn.AuditEntry
	for after := int64(0); ; {
		page, err := cl.ListAudit(ctx, cairn.AuditQuery{AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == 0 {
			break
		}
		all = append(all, page.Items...)
		after = page.NextAfter
	}
	prev := ""
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("audit entry %d has seq %d: the sequence has a gap", i+1, e.Seq)
		}
		if e.PrevHash != prev {
			t.Fatalf("audit entry %d: prev_hash %s, but entry %d's hash is %s: the chain forks", e.Seq, e.PrevHash, e.Seq-1, prev)
		}
		if h := e.ComputeHash(prev); h != e.Hash {
			t.Fatalf("audit entry %d: hash %s, recomputed %s", e.Seq, e.Hash, h)
		}
		prev = e.Hash
	}
	if len(all) == 0 {
		t.Fatal("empty audit log")
	}
	return all
}

// checkEventSequence reads the whole event feed and checks that its
// sequence numbers are 1..M.
func checkEventSequence(t *testing.T, ctx context.Context, cl *client.Client) []*cairn.Event {
	t.Helper()
	var all []*cairn.Event
	for after := int64(0); ; {
		page, err := cl.ListEvents(ctx, after, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == 0 {
			break
		}
		all = append(all, page.Items...)
		after = page.NextAfter
	}
	seqs := make([]int64, len(all))
	for i, e := range all {
		seqs[i] = e.Seq
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: the feed has a gap (%v…)", i+1, e.Seq, seqs[max(0, i-3):i+1])
		}
	}
	if !slices.IsSorted(seqs) || len(all) == 0 {
		t.Fatalf("event sequence %v", seqs)
	}
	return all
}
