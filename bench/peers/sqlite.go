package peers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/felhom/opjournal/codec"
	"github.com/felhom/opjournal/store"
)

// sqliteFile is the database's name in the journal's directory; SQLite
// keeps its write-ahead log (-wal) and shared memory index (-shm) beside it.
const sqliteFile = "journal.db"

// sqliteSchema is the journal's tables. records holds every record in append
// order; latest each op's last record, with a partial index on the ops in
// flight (what InFlight reads); applied each idempotency key that reached
// succeeded. Values are codec records, as the store's.
const sqliteSchema = `
CREATE TABLE IF NOT EXISTS records (
	seq  INTEGER PRIMARY KEY,
	body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS latest (
	op_id     TEXT PRIMARY KEY,
	in_flight INTEGER NOT NULL,
	body      BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS latest_in_flight ON latest (op_id) WHERE in_flight = 1;
CREATE TABLE IF NOT EXISTS applied (
	idemp_key TEXT PRIMARY KEY,
	op_id     TEXT NOT NULL
) WITHOUT ROWID;
`

// SQLite is a journal in a SQLite database (modernc.org/sqlite, pure Go) in
// WAL mode with synchronous=FULL: a commit returns once its WAL frames are
// fsync'd. Appends go through one write connection; reads use a pool of
// others, which WAL lets run beside the writer. It is safe for concurrent
// use.
type SQLite struct {
	w   *sql.DB   // one connection: the writer
	wc  *sql.Conn // that connection, held
	r   *sql.DB   // readers
	dir string

	insRecord, upsLatest, insApplied *sql.Stmt // on wc
	getLatest, getApplied, inFlight  *sql.Stmt // on r

	batched bool
	mu      sync.Mutex // the write connection (plain), or the queue (batched)
	pending []*sqliteReq
	leading bool // a caller is committing a batch

	readErr errOnce
}

// sqliteReq is one caller's Append waiting in the batched variant's queue.
type sqliteReq struct {
	e    *store.JournalEntry
	done chan sqliteDone
}

type sqliteDone struct {
	err  error
	lead bool // the caller commits the next batch itself
}

// OpenSQLite opens the journal in directory dir, creating it if needed. With
// batched, the appends of callers that wait for the write connection share
// one transaction (group commit: the first caller commits what has queued
// up, the next batch is committed by the first caller that arrived during
// the commit); otherwise every Append is its own transaction.
func OpenSQLite(dir string, batched bool) (*SQLite, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	j := &SQLite{dir: dir, batched: batched}
	if err := j.open(); err != nil {
		j.closeAll()
		return nil, fmt.Errorf("sqlite: open %s: %w", dir, err)
	}
	return j, nil
}

func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

func (j *SQLite) open() error {
	ctx := context.Background()
	dsn := sqliteDSN(filepath.Join(j.dir, sqliteFile))
	var err error
	if j.w, err = sql.Open("sqlite", dsn); err != nil {
		return err
	}
	j.w.SetMaxOpenConns(1)
	if j.wc, err = j.w.Conn(ctx); err != nil {
		return err
	}
	var mode string
	var syncMode int
	if err := j.wc.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if err := j.wc.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return err
	}
	if mode != "wal" || syncMode != 2 {
		return fmt.Errorf("journal_mode %q, synchronous %d: want wal and 2 (FULL)", mode, syncMode)
	}
	if _, err := j.wc.ExecContext(ctx, sqliteSchema); err != nil {
		return err
	}
	for _, s := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&j.insRecord, "INSERT INTO records (body) VALUES (?)"},
		{&j.upsLatest, "INSERT INTO latest (op_id, in_flight, body) VALUES (?, ?, ?) " +
			"ON CONFLICT (op_id) DO UPDATE SET in_flight = excluded.in_flight, body = excluded.body"},
		{&j.insApplied, "INSERT OR IGNORE INTO applied (idemp_key, op_id) VALUES (?, ?)"},
	} {
		if *s.stmt, err = j.wc.PrepareContext(ctx, s.sql); err != nil {
			return err
		}
	}
	if j.r, err = sql.Open("sqlite", dsn); err != nil {
		return err
	}
	j.r.SetMaxIdleConns(4)
	for _, s := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&j.getLatest, "SELECT body FROM latest WHERE op_id = ?"},
		{&j.getApplied, "SELECT 1 FROM applied WHERE idemp_key = ?"},
		{&j.inFlight, "SELECT body FROM latest WHERE in_flight = 1"},
	} {
		if *s.stmt, err = j.r.PrepareContext(ctx, s.sql); err != nil {
			return err
		}
	}
	return nil
}

// Append writes e and returns once its transaction is committed durably.
// It validates e first, so that in the batched variant a batch fails only
// as a whole (on an error of the database), never for one caller's record.
func (j *SQLite) Append(e store.JournalEntry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if !j.batched {
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.commit([]*store.JournalEntry{&e})
	}
	req := &sqliteReq{e: &e, done: make(chan sqliteDone, 1)}
	j.mu.Lock()
	j.pending = append(j.pending, req)
	if j.leading {
		j.mu.Unlock()
		d := <-req.done
		if !d.lead {
			return d.err
		}
		j.mu.Lock() // this caller leads now; leading stays true
	} else {
		j.leading = true
	}
	batch := j.pending
	j.pending = nil
	j.mu.Unlock()

	es := make([]*store.JournalEntry, len(batch))
	for i, q := range batch {
		es[i] = q.e
	}
	err := j.commit(es)

	j.mu.Lock()
	if len(j.pending) > 0 {
		j.pending[0].done <- sqliteDone{lead: true}
	} else {
		j.leading = false
	}
	j.mu.Unlock()
	for _, q := range batch {
		if q != req {
			q.done <- sqliteDone{err: err}
		}
	}
	return err
}

// commit writes es in one transaction on the write connection, which the
// caller holds.
func (j *SQLite) commit(es []*store.JournalEntry) (err error) {
	ctx := context.Background()
	if j.wc == nil {
		return errClosed
	}
	if _, err := j.wc.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = j.wc.ExecContext(ctx, "ROLLBACK")
		}
	}()
	for _, e := range es {
		if err := j.write(ctx, e); err != nil {
			return err
		}
	}
	if _, err := j.wc.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

func (j *SQLite) write(ctx context.Context, e *store.JournalEntry) error {
	body, err := encode(e)
	if err != nil {
		return err
	}
	if _, err := j.insRecord.ExecContext(ctx, body); err != nil {
		return fmt.Errorf("sqlite: insert record: %w", err)
	}
	inFlight := 0
	if !e.State.Terminal() {
		inFlight = 1
	}
	if _, err := j.upsLatest.ExecContext(ctx, e.OpID, inFlight, body); err != nil {
		return fmt.Errorf("sqlite: upsert latest: %w", err)
	}
	if e.State == store.OpSucceeded && e.IdempKey != "" {
		if _, err := j.insApplied.ExecContext(ctx, e.IdempKey, e.OpID); err != nil {
			return fmt.Errorf("sqlite: insert applied: %w", err)
		}
	}
	return nil
}

// appendBatch writes es in one transaction: the bulk load.
func (j *SQLite) appendBatch(es []store.JournalEntry) error {
	ps := make([]*store.JournalEntry, len(es))
	for i := range es {
		ps[i] = &es[i]
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.commit(ps)
}

// Latest returns op's last record.
func (j *SQLite) Latest(op string) (store.JournalEntry, bool) {
	var body []byte
	err := j.getLatest.QueryRow(op).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return store.JournalEntry{}, false
	}
	if err != nil {
		j.readErr.set(fmt.Errorf("sqlite: Latest(%q): %w", op, err))
		return store.JournalEntry{}, false
	}
	e, err := decode(body)
	if err != nil {
		j.readErr.set(fmt.Errorf("sqlite: Latest(%q): %w", op, err))
		return store.JournalEntry{}, false
	}
	return e, true
}

// AlreadyApplied reports whether key reached succeeded.
func (j *SQLite) AlreadyApplied(key string) bool {
	if key == "" {
		return false
	}
	var one int
	err := j.getApplied.QueryRow(key).Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		j.readErr.set(fmt.Errorf("sqlite: AlreadyApplied(%q): %w", key, err))
	}
	return err == nil
}

// InFlight returns the ops whose latest record is not terminal.
func (j *SQLite) InFlight() []store.JournalEntry {
	rows, err := j.inFlight.Query()
	if err != nil {
		j.readErr.set(fmt.Errorf("sqlite: InFlight: %w", err))
		return nil
	}
	defer rows.Close()
	var out []store.JournalEntry
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			j.readErr.set(fmt.Errorf("sqlite: InFlight: %w", err))
			return out
		}
		e, err := decode(body)
		if err != nil {
			j.readErr.set(fmt.Errorf("sqlite: InFlight: %w", err))
			return out
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		j.readErr.set(fmt.Errorf("sqlite: InFlight: %w", err))
	}
	return out
}

// Close closes the database; it returns the first error a read met, if
// any (the read methods have no error to return).
func (j *SQLite) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.closeAll()
	return errors.Join(j.readErr.get(), err)
}

func (j *SQLite) closeAll() error {
	var errs []error
	for _, s := range []*sql.Stmt{j.insRecord, j.upsLatest, j.insApplied, j.getLatest, j.getApplied, j.inFlight} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	j.insRecord, j.upsLatest, j.insApplied, j.getLatest, j.getApplied, j.inFlight = nil, nil, nil, nil, nil, nil
	if j.wc != nil {
		errs = append(errs, j.wc.Close())
		j.wc = nil
	}
	for _, db := range []*sql.DB{j.r, j.w} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	j.r, j.w = nil, nil
	return errors.Join(errs...)
}

// checkpoint copies the WAL into the database file and truncates it: what
// a bulk load ends with, so that its fixture is the database alone.
func (j *SQLite) checkpoint() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, err := j.wc.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// SQLiteVersion is the SQLite library's version, e.g. "3.50.4".
func SQLiteVersion() (string, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	err = db.QueryRow("SELECT sqlite_version()").Scan(&v)
	return v, err
}

// errClosed is returned by calls on a closed journal.
var errClosed = errors.New("peers: journal closed")

// errOnce keeps the first error set.
type errOnce struct {
	mu  sync.Mutex
	err error
}

func (o *errOnce) set(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
}

func (o *errOnce) get() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// encode is a record's value in both peers: the store's codec record.
func encode(e *store.JournalEntry) ([]byte, error) {
	return codec.EncodeRecord(&codec.Record{
		OpID: e.OpID, VMID: e.VMID, Kind: e.Kind, Params: e.Params, UPID: e.UPID,
		State: string(e.State), IdempKey: e.IdempKey, At: e.At,
	})
}

func decode(b []byte) (store.JournalEntry, error) {
	r, err := codec.DecodeRecord(b)
	if err != nil {
		return store.JournalEntry{}, err
	}
	return store.JournalEntry{
		OpID: r.OpID, VMID: r.VMID, Kind: r.Kind, Params: r.Params, UPID: r.UPID,
		State: store.OpState(r.State), IdempKey: r.IdempKey, At: r.At,
	}, nil
}
