package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// The live endpoint: a read-only HTTP/1.1 server with JSON bodies on a Unix
// domain socket, served by the process that holds the journal, so that
// operators and tools (opjournal's CLI, package live, curl --unix-socket)
// can read a journal an agent has open. bbolt cannot give a second process
// a consistent view of a file a writer holds; the writer's process can.
//
// Security: the socket is made with mode 0600 under a temporary name and
// renamed into place (so that no symlink at its path is followed and it is
// never there with another mode), owned by the journal file's owner, and every
// connection's peer credentials (SO_PEERCRED, from the kernel) are read on
// accept: only root, the owner of the journal file and the journal's own
// process user are served; anyone else's request gets 403 and the
// connection is closed, before any handler runs. Where peer credentials
// are not available (not Linux), no endpoint is served.
//
// Bounds: at most endpointMaxConns connections (more are refused with 503),
// endpointMaxActive short requests and endpointMaxStreams streams at a time
// (more get 503), one snapshot (backup, check) at a time, request headers of
// at most 8 KiB (net/http allows 4 KiB more) read within 5 s, idle
// connections closed after 60 s, and every write to a client must complete
// within endpointWriteTimeout, so a client that stops reading is dropped.
// Handlers only read the journal: they never take its write lock, and no
// read transaction lasts as long as a client takes to read: the feed and
// export read in short transactions, backup streams a snapshot file.

const (
	endpointMaxConns   = 1024
	endpointMaxActive  = 32
	endpointMaxStreams = 64
	// maxSocketPath is the longest path a Unix socket address holds
	// (sun_path is 108 bytes, with its terminating NUL).
	maxSocketPath = 107
)

// endpointWriteTimeout is how long each write to a client may take.
var endpointWriteTimeout = 30 * time.Second

// EndpointPath returns where a journal at path serves its live endpoint by
// default: the path with ".sock" appended.
func EndpointPath(path string) string { return path + ".sock" }

// endpoint is a journal's running live endpoint.
type endpoint struct {
	path      string
	srv       *http.Server
	ln        net.Listener
	sock      os.FileInfo // the socket file made, to remove only that one
	cancel    context.CancelFunc
	served    sync.WaitGroup // Serve's goroutine
	active    chan struct{}  // short request slots
	streams   chan struct{}  // stream slots
	snapshots chan struct{}  // one snapshot at a time

	// feeds ends the feed streams when the journal closes, before their
	// connections are closed, so that they can say so.
	feeds     context.Context
	stopFeeds context.CancelFunc

	writeTimeout time.Duration // endpointWriteTimeout when it started

	mu       sync.Mutex
	stopping bool
	handlers sync.WaitGroup // requests being handled
}

// begin admits a request, unless the endpoint is stopping.
func (ep *endpoint) begin() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.stopping {
		return false
	}
	ep.handlers.Add(1)
	return true
}

// startEndpoint starts the live endpoint of a read-write journal, unless
// Options say not to. Failing to start it is not an error: the journal
// works without it, and the reason is logged.
func (j *Journal) startEndpoint() {
	if j.opts.ReadOnly || j.opts.NoEndpoint {
		return
	}
	path := j.opts.Endpoint
	if path == "" {
		path = EndpointPath(j.path)
	}
	ep, err := j.listen(path)
	if err != nil {
		j.opts.Logger.Warn("store: live endpoint not started; the journal works without it", "socket", path, "err", err)
		return
	}
	j.endpoint = ep
	j.opts.Logger.Info("store: live endpoint serving", "socket", path)
}

func (j *Journal) listen(path string) (*endpoint, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("socket path is %d bytes, more than the %d a Unix socket address holds; set Options.Endpoint to a shorter one", len(path), maxSocketPath)
	}
	owner, err := fileOwner(j.path)
	if err != nil {
		return nil, err
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	ln, sock, err := bindPrivate(path, owner)
	if err != nil {
		return nil, err
	}
	j.removeSnapshots()
	ctx, cancel := context.WithCancel(context.Background())
	feeds, stopFeeds := context.WithCancel(context.Background())
	ep := &endpoint{
		feeds:        feeds,
		stopFeeds:    stopFeeds,
		writeTimeout: endpointWriteTimeout,
		path:         path,
		ln: &guardedListener{UnixListener: ln, allowed: []int{0, owner, os.Geteuid()},
			slots: make(chan struct{}, endpointMaxConns), refusal: make(chan struct{}, 64)},
		sock:      sock,
		cancel:    cancel,
		active:    make(chan struct{}, endpointMaxActive),
		streams:   make(chan struct{}, endpointMaxStreams),
		snapshots: make(chan struct{}, 1),
	}
	ep.srv = &http.Server{
		Handler:           j.endpointHandler(ep),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			sc, ok := c.(*slotConn)
			return context.WithValue(ctx, peerAllowed{}, ok && sc.allowed)
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	ep.served.Add(1)
	go func() {
		defer ep.served.Done()
		_ = ep.srv.Serve(ep.ln)
	}()
	return ep, nil
}

// peerAllowed is the context key of whether a connection's peer may be
// served.
type peerAllowed struct{}

// stop closes the endpoint and its connections, waits for its handlers,
// and removes the socket if it is still the one it made.
func (ep *endpoint) stop() {
	ep.mu.Lock()
	ep.stopping = true
	ep.mu.Unlock()
	// Feeds end first, telling their clients the journal closed; a client
	// that does not take that line within a second is cut off with the
	// rest.
	ep.stopFeeds()
	drained := make(chan struct{})
	go func() { ep.handlers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(time.Second):
	}
	ep.cancel()
	_ = ep.srv.Close()
	ep.served.Wait()
	ep.handlers.Wait()
	ep.ln.(*guardedListener).refusing.Wait()
	if now, err := os.Lstat(ep.path); err == nil && os.SameFile(now, ep.sock) {
		_ = os.Remove(ep.path)
	}
}

// removeStaleSocket clears the way for a new socket at path: nothing there,
// or a socket nobody answers on (left by a process that was killed), which
// it removes. Anything else there is kept and is an error: a live socket
// (another journal's), a symlink (never followed), any other file.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket (%s); not replacing it", path, fi.Mode().Type())
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("%s is the live socket of another process", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Remove(path)
}

// guardedListener admits at most cap(slots) connections at a time, and
// notes each one's peer: whether it may be served.
type guardedListener struct {
	*net.UnixListener
	allowed  []int // user ids served
	slots    chan struct{}
	refusal  chan struct{} // connections over the cap being told so
	refusing sync.WaitGroup
}

func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			uid, err := peerUID(c)
			return &slotConn{UnixConn: c, slots: l.slots, allowed: err == nil && slices.Contains(l.allowed, uid)}, nil
		default:
		}
		select {
		case l.refusal <- struct{}{}:
			l.refusing.Add(1)
			go func() {
				defer l.refusing.Done()
				defer func() { <-l.refusal }()
				refuse(c, http.StatusServiceUnavailable, "busy", fmt.Sprintf("more than %d connections", cap(l.slots)))
			}()
		default:
			_ = c.Close() // too many at once even to say so
		}
	}
}

// bindPrivate makes a listening socket at path, with mode 0600 and owned by
// owner (when this process may give it away): bound under a temporary name
// beside path and renamed into place once its mode is set, so that the
// socket at path is never reachable with another mode and a symlink
// planted at path is replaced, never followed. (Whoever can write the
// directory could still meddle with the temporary name: Open warns about
// such a directory, and every connection's peer is checked anyway.)
func bindPrivate(path string, owner int) (*net.UnixListener, os.FileInfo, error) {
	tmp := fmt.Sprintf("%s.%d-%d", path, os.Getpid(), time.Now().UnixNano()%1e9)
	if len(tmp) > maxSocketPath {
		return nil, nil, fmt.Errorf("the socket's temporary path %s is over the %d bytes a Unix socket address holds; set Options.Endpoint to a shorter path", tmp, maxSocketPath)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	ln.SetUnlinkOnClose(false) // stop removes the socket only if it is still this one
	fail := func(err error) (*net.UnixListener, os.FileInfo, error) {
		_ = ln.Close()
		_ = os.Remove(tmp)
		return nil, nil, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if owner != os.Geteuid() {
		_ = os.Lchown(tmp, owner, -1) // root serving another user's journal
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	sock, err := os.Lstat(path)
	if err != nil {
		_ = ln.Close()
		return nil, nil, err
	}
	return ln, sock, nil
}

// refuse answers a connection over the cap with an error once it has read
// the request's head (a client that gets an answer before it has sent its
// request takes it for a broken connection), and closes it.
func refuse(c *net.UnixConn, status int, code, msg string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := http.ReadRequest(bufio.NewReader(io.LimitReader(c, 8<<10))); err != nil {
		return
	}
	body := fmt.Sprintf("{\"error\":%q,\"code\":%q}\n", "store: live endpoint: "+msg, code)
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}

// slotConn gives its slot back when closed. allowed says whether its peer
// is root or the journal file's owner (SO_PEERCRED).
type slotConn struct {
	*net.UnixConn
	slots   chan struct{}
	once    sync.Once
	allowed bool
}

func (c *slotConn) Close() error {
	c.once.Do(func() { <-c.slots })
	return c.UnixConn.Close()
}
