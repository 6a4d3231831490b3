package live_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/felhom/opjournal/live"
	"github.com/felhom/opjournal/store"
)

const dialEnv = "OPJOURNAL_TEST_DIAL"

func TestMain(m *testing.M) {
	if socket := os.Getenv(dialEnv); socket != "" {
		dialAsChild(socket)
		return
	}
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func rec(op string, vmid int, state store.OpState, key, upid string, min int) store.JournalEntry {
	return store.JournalEntry{OpID: op, VMID: vmid, Kind: "start", State: state, IdempKey: key, UPID: upid,
		At: t0.Add(time.Duration(min) * time.Minute), Params: map[string]string{"node": "pve1"}}
}

// openLive opens a journal with its endpoint and a client of it.
func openLive(t *testing.T, opts *store.Options) (*store.Journal, *live.Client) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := store.Open(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	c, err := live.Dial(context.Background(), store.EndpointPath(path))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return j, c
}

func fill(t *testing.T, j *store.Journal) {
	t.Helper()
	for _, e := range []store.JournalEntry{
		rec("a", 101, store.OpStarted, "ka", "", 0),
		rec("a", 101, store.OpTaskRunning, "ka", "UPID:a", 1),
		rec("a", 101, store.OpSucceeded, "ka", "UPID:a", 2),
		rec("b", 102, store.OpStarted, "", "", 3),
		rec("c", 101, store.OpTaskRunning, "kc", "UPID:c", 4),
		rec("op with / and ?&= in it", 103, store.OpFailed, "k?", "", 5),
	} {
		require.NoError(t, j.Append(e))
	}
}

// Every read answers through the endpoint what the journal answers itself.
func TestClientAnswersAsTheJournal(t *testing.T) {
	j, c := openLive(t, nil)
	fill(t, j)
	ctx := context.Background()

	require.Equal(t, os.Getpid(), c.Info().PID)
	require.Equal(t, store.SchemaVersion, c.Info().Schema)
	for _, op := range []string{"a", "b", "c", "op with / and ?&= in it", "nope"} {
		want, wok, err := j.Get(op)
		require.NoError(t, err)
		got, ok, err := c.Get(ctx, op)
		require.NoError(t, err)
		require.Equal(t, wok, ok, op)
		require.Equal(t, want, got, op)
		wantH, err := j.History(op)
		require.NoError(t, err)
		gotH, err := c.History(ctx, op)
		require.NoError(t, err)
		require.Equal(t, len(wantH), len(gotH), op)
		for i := range wantH {
			require.Equal(t, wantH[i], gotH[i])
		}
	}
	inflight, err := c.InFlight(ctx)
	require.NoError(t, err)
	want, err := j.InFlightOps()
	require.NoError(t, err)
	require.Equal(t, want, inflight)
	for _, key := range []string{"ka", "kc", "k?", "none"} {
		wa, wok, err := j.Applied(key)
		require.NoError(t, err)
		ga, ok, err := c.Applied(ctx, key)
		require.NoError(t, err)
		require.Equal(t, wok, ok, key)
		require.Equal(t, wa, ga, key)
	}
	byVMID, err := c.ByVMID(ctx, 101)
	require.NoError(t, err)
	wantVMID, err := j.ByVMID(101)
	require.NoError(t, err)
	require.Equal(t, wantVMID, byVMID)
	e, ok, err := c.ByUPID(ctx, "UPID:c")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "c", e.OpID)
	_, ok, err = c.ByUPID(ctx, "UPID:none")
	require.NoError(t, err)
	require.False(t, ok)

	stats, err := c.Stats(ctx)
	require.NoError(t, err)
	wantStats, err := j.Stats()
	require.NoError(t, err)
	require.Equal(t, wantStats, stats)
	rep, err := c.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, rep.Ops)
	require.Equal(t, 6, rep.Records)
	m, err := c.Metrics(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(6), m.Appends)
	meta, err := c.Meta(ctx)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(store.SchemaVersion), meta["schema"])

	tail, err := c.Tail(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, []uint64{5, 6}, seqsOf(tail))
	page, err := c.Changes(ctx, 1, 2)
	require.NoError(t, err)
	require.Equal(t, []uint64{2, 3}, seqsOf(page))

	var export bytes.Buffer
	_, err = c.Export(ctx, &export)
	require.NoError(t, err)
	require.Equal(t, 6, strings.Count(export.String(), "\n"))

	var backup bytes.Buffer
	n, err := c.Backup(ctx, &backup)
	require.NoError(t, err)
	require.Equal(t, int64(backup.Len()), n)
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	require.NoError(t, os.WriteFile(copyPath, backup.Bytes(), 0o600))
	cp, err := store.Open(copyPath, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	_, err = cp.Check(ctx)
	require.NoError(t, err)
	require.NoError(t, cp.Close())
}

func seqsOf(cs []store.Change) []uint64 {
	out := []uint64{}
	for _, c := range cs {
		out = append(out, c.Seq)
	}
	return out
}

// The feed delivers history then live records, each once and in order, and
// a consumer resumes from the last sequence it handled.
func TestFollowThroughTheEndpoint(t *testing.T) {
	j, c := openLive(t, nil)
	fill(t, j)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const writers, each = 4, 50
	total := 6 + writers*each
	var got []store.Change
	done := make(chan error, 1)
	go func() {
		done <- c.Follow(ctx, 0, func(ch store.Change) error {
			got = append(got, ch)
			if len(got) == total {
				cancel()
			}
			return nil
		})
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := j.Append(rec(fmt.Sprintf("w%d-%d", w, i), 100+w, store.OpStarted, "", "", i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Len(t, got, total)
	for i, ch := range got {
		require.Equal(t, uint64(i+1), ch.Seq)
	}
	want, err := j.Changes(0, total)
	require.NoError(t, err)
	require.Equal(t, want, got)

	// Resume after seq 100 with FollowLast-free Follow.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	var rest []store.Change
	err = c.Follow(ctx2, 100, func(ch store.Change) error {
		rest = append(rest, ch)
		if len(rest) == total-100 {
			cancel2()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, want[100:], rest)
}

func TestFollowEndsWithTheJournal(t *testing.T) {
	j, c := openLive(t, nil)
	fill(t, j)
	done := make(chan error, 1)
	first := make(chan struct{})
	var once sync.Once
	go func() {
		done <- c.Follow(context.Background(), 0, func(store.Change) error { once.Do(func() { close(first) }); return nil })
	}()
	<-first
	require.NoError(t, j.Close())
	require.ErrorIs(t, <-done, store.ErrClosed)
	_, err := live.Dial(context.Background(), c.Socket())
	require.ErrorIs(t, err, live.ErrNoEndpoint)
}

func TestFollowErrors(t *testing.T) {
	j, c := openLive(t, nil)
	fill(t, j)
	ctx := context.Background()
	err := c.Follow(ctx, 99, func(store.Change) error { return nil })
	require.ErrorIs(t, err, store.ErrSeqAhead)
	_, err = j.Prune(ctx, store.PruneOptions{Before: t0.Add(time.Hour)})
	require.NoError(t, err)
	err = c.Follow(ctx, 0, func(store.Change) error { return nil })
	require.ErrorIs(t, err, store.ErrPruned)
	var le *live.Error
	require.ErrorAs(t, err, &le)
	require.Equal(t, uint64(6), le.Through)
}

// rawGet sends one raw HTTP request on a new connection and returns the
// status line.
func rawGet(t *testing.T, socket, request string) string {
	t.Helper()
	conn, err := net.Dial("unix", socket)
	require.NoError(t, err)
	defer conn.Close()
	_, _ = io.WriteString(conn, request)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line)
}

func TestMalformedRequests(t *testing.T) {
	j, c := openLive(t, nil)
	fill(t, j)
	s := c.Socket()
	for _, tc := range []struct{ req, want string }{
		{"GET /v1/op HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"GET /v1/tail?n=-1 HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"GET /v1/vmid?vmid=abc HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"GET /v1/feed?from=1&last=2 HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"POST /v1/op?id=a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "405"},
		{"GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n", "404"},
		{"GET /v1/op?id=a HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", "431"},
		{"NONSENSE\r\n\r\n", "400"},
	} {
		require.Contains(t, rawGet(t, s, tc.req), tc.want, "%.60q", tc.req)
	}
	// The journal is unharmed.
	require.NoError(t, j.Append(rec("d", 104, store.OpStarted, "", "", 9)))
	_, ok, err := c.Get(context.Background(), "d")
	require.NoError(t, err)
	require.True(t, ok)
}

// Idle connections, a client that stops reading in the middle of a stream
// and a flood of requests leave appends and other clients working.
func TestBadClientsDoNotStopAppendsOrOthers(t *testing.T) {
	j, c := openLive(t, nil)
	fill(t, j)
	var idle []net.Conn
	for range 1000 {
		conn, err := net.Dial("unix", c.Socket())
		require.NoError(t, err)
		idle = append(idle, conn)
	}
	defer func() {
		for _, conn := range idle {
			_ = conn.Close()
		}
	}()
	// A client that asks for a stream and never reads it.
	stalled, err := net.Dial("unix", c.Socket())
	if err == nil {
		defer stalled.Close()
		_, _ = io.WriteString(stalled, "GET /v1/feed?from=0 HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	big := rec("big", 1, store.OpStarted, "", "", 0)
	big.Params = map[string]string{"blob": strings.Repeat("x", 100<<10)}
	for i := range 200 {
		big.OpID = fmt.Sprintf("big-%d", i)
		require.NoError(t, j.Append(big), "append %d", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fresh, err := live.Dial(ctx, c.Socket())
	require.NoError(t, err, "a new client is served beside 1000 idle ones")
	defer fresh.Close()
	s, err := fresh.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, 206, s.Records)
}

// More connections than the endpoint serves are refused with 503 at once.
func TestConnectionsOverTheCapAreRefused(t *testing.T) {
	_, c := openLive(t, nil)
	var conns []net.Conn
	defer func() {
		for _, conn := range conns {
			_ = conn.Close()
		}
	}()
	refused := 0
	for i := range 1100 {
		conn, err := net.Dial("unix", c.Socket())
		require.NoError(t, err)
		conns = append(conns, conn)
		if i < 1024 {
			continue
		}
		_, _ = io.WriteString(conn, "GET /v1/info HTTP/1.1\r\nHost: x\r\n\r\n")
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(conn).ReadString('\n')
		if strings.Contains(line, "503") {
			refused++
		}
	}
	require.Equal(t, len(conns)-1024, refused, "every connection over the cap of 1024 is refused at once")
}

func TestSocketLifecycle(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.db")
	sock := store.EndpointPath(path)

	j, err := store.Open(path, nil)
	require.NoError(t, err)
	fi, err := os.Lstat(sock)
	require.NoError(t, err)
	require.Equal(t, os.ModeSocket|0o600, fi.Mode()&(os.ModeType|os.ModePerm), "a socket of mode 0600")

	// Another journal cannot take a live socket: it opens without one.
	other := filepath.Join(dir, "other.db")
	var logs bytes.Buffer
	j2, err := store.Open(other, &store.Options{Endpoint: sock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.Contains(t, logs.String(), "live endpoint not started")
	require.NoError(t, j2.Close())
	_, err = live.Dial(context.Background(), sock)
	require.NoError(t, err, "the first journal still serves")

	require.NoError(t, j.Close())
	_, err = os.Lstat(sock)
	require.ErrorIs(t, err, os.ErrNotExist, "Close removes the socket")

	// A stale socket (its process is gone) is replaced.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	stale.SetUnlinkOnClose(false)
	require.NoError(t, stale.Close())
	j, err = store.Open(path, nil)
	require.NoError(t, err)
	c, err := live.Dial(context.Background(), sock)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, j.Close())

	// A symlink or a file at the socket's place is left alone.
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o600))
	for _, make := range []func() error{
		func() error { return os.Symlink(target, sock) },
		func() error { return os.WriteFile(sock, []byte("keep"), 0o600) },
	} {
		require.NoError(t, make())
		logs.Reset()
		j, err = store.Open(path, &store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		require.NoError(t, err)
		require.Contains(t, logs.String(), "not a socket")
		require.NoError(t, j.Close())
		b, err := os.ReadFile(target)
		require.NoError(t, err)
		require.Equal(t, "keep", string(b))
		require.NoError(t, os.Remove(sock))
	}

	// A socket path over the limit: the journal opens without it.
	logs.Reset()
	long := filepath.Join(dir, strings.Repeat("x", 120)+".sock")
	j, err = store.Open(path, &store.Options{Endpoint: long, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.Contains(t, logs.String(), "more than the 107")
	require.NoError(t, j.Close())

	// Turned off.
	j, err = store.Open(path, &store.Options{NoEndpoint: true})
	require.NoError(t, err)
	_, err = os.Lstat(sock)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, j.Close())
}

// A read-only directory: the journal opens and logs why it serves nothing.
func TestEndpointInReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "j.db")
	j, err := store.Open(path, &store.Options{NoEndpoint: true})
	require.NoError(t, err)
	require.NoError(t, j.Close())
	require.NoError(t, os.Chmod(dir, 0o500))
	defer os.Chmod(dir, 0o700)
	var logs bytes.Buffer
	j, err = store.Open(path, &store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.Contains(t, logs.String(), "live endpoint not started")
	require.NoError(t, j.Close())
}

// dialAsChild is the child of TestOtherUsersAreRefused: it asks the socket
// for the journal's info and prints what happened.
func dialAsChild(socket string) {
	_, err := live.Dial(context.Background(), socket)
	var le *live.Error
	switch {
	case err == nil:
		fmt.Println("served")
	case errors.As(err, &le):
		fmt.Println("refused:", le.Status, le.Code)
	case errors.Is(err, syscall.EACCES):
		fmt.Println("denied by the socket's mode")
	default:
		fmt.Println("error:", err)
	}
	os.Exit(0)
}

// Only root and the journal file's owner are served: another user is
// stopped by the socket's mode, and if that is loosened, by its peer
// credentials.
func TestOtherUsersAreRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a client as another user (nobody)")
	}
	dir, err := os.MkdirTemp("", "opjournal-live-")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	require.NoError(t, os.Chmod(dir, 0o755))
	path := filepath.Join(dir, "j.db")
	j, err := store.Open(path, nil)
	require.NoError(t, err)
	defer j.Close()
	// The test binary sits in a directory only root may enter: run a copy.
	bin := filepath.Join(dir, "live.test")
	self, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, self, 0o755))
	asNobody := func() string {
		child := exec.Command(bin, "-test.run=^$")
		child.Env = append(os.Environ(), dialEnv+"="+store.EndpointPath(path))
		child.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := child.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.TrimSpace(string(out))
	}
	require.Contains(t, asNobody(), "denied by the socket's mode")
	require.NoError(t, os.Chmod(store.EndpointPath(path), 0o666))
	require.Equal(t, "refused: 403 forbidden", asNobody())
	c, err := live.Dial(context.Background(), store.EndpointPath(path))
	require.NoError(t, err, "root is served")
	require.NoError(t, c.Close())
}

// Appends are never held by the endpoint's readers: a check and a backup of
// a live journal run while appends go on.
func TestCheckAndBackupWhileAppending(t *testing.T) {
	j, c := openLive(t, nil)
	fill(t, j)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var appended atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				if err := j.Append(rec(fmt.Sprintf("w%d-%d", w, i), 100+w, store.OpStarted, "", "", i)); err != nil {
					t.Error(err)
					return
				}
				appended.Add(1)
			}
		}()
	}
	ctx := context.Background()
	for i := range 5 {
		_, err := c.Check(ctx)
		require.NoError(t, err, "check %d", i)
		path := filepath.Join(t.TempDir(), "b.db")
		_, err = store.WriteBackupFile(path, func(w io.Writer) (int64, error) { return c.Backup(ctx, w) })
		require.NoError(t, err, "backup %d", i)
	}
	stop.Store(true)
	wg.Wait()
	require.Positive(t, appended.Load())
	_ = http.StatusOK
}

// Followers, however many, do not take the slots of short requests.
func TestFollowersDoNotLockOutRequests(t *testing.T) {
	j, c := openLive(t, nil)
	fill(t, j)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	started := make(chan struct{}, 48)
	for range 48 {
		fc, err := live.Dial(ctx, c.Socket())
		require.NoError(t, err)
		defer fc.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = fc.Follow(ctx, 0, func(store.Change) error {
				select {
				case started <- struct{}{}:
				default:
				}
				return nil
			})
		}()
	}
	for range 48 {
		<-started
	}
	for range 40 {
		_, err := c.Stats(context.Background())
		require.NoError(t, err)
	}
}
