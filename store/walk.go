package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Every walk over a bucket goes through a cursor that holds bbolt to what a
// sound B+tree does, so that a tree that loops back on itself (a branch
// element pointing to an ancestor, a page reached from two parents) ends
// the walk with ErrCorrupt instead of running forever:
//
//   - keys come in strict order: Next returns a key after the last one,
//     Prev one before it, Seek one at or after the key sought. A walk over a
//     loop returns a key it has already passed within one turn of the loop.
//   - a walk takes at most as many steps as the file can hold entries: the
//     page count in the meta page times the most elements a page holds.
//
// Both cost a comparison and a counter per step. Descents (Get, Seek,
// First), which bbolt runs inside one call, are made safe by the shape check
// that Open runs first (see shape.go).
//
// A cursor that finds damage panics with an error matching ErrCorrupt and
// naming the bucket; guard turns it back into that error, and view and
// update poison the handle, as for any damage.
type cursor struct {
	c     *bolt.Cursor
	name  []byte // the bucket, for the error
	last  []byte // the key returned last, nil at either end
	steps int
	limit int
}

// minLeafElement is the fewest bytes an entry takes in a page: bbolt's leaf
// element header (flags, pos, ksize, vsize: 4 bytes each) and a key of at
// least one byte (bbolt refuses empty keys).
const minLeafElement = 16 + 1

// walkLimit is the most entries the file of tx can hold: its page count
// times the most elements that fit in a page. Overflow pages count in the
// page count, so the bound holds for pages that span several. buckets
// takes it once per transaction, at its first walk: no write transaction
// walks a bucket it grows, so the size then bounds all its walks.
func walkLimit(tx *bolt.Tx) int {
	ps := int64(tx.DB().Info().PageSize)
	return int(tx.Size() / ps * (ps / minLeafElement))
}

// newCursor returns a bounded cursor over b, named name in its errors.
func newCursor(tx *bolt.Tx, b *bolt.Bucket, name []byte) cursor {
	return cursor{c: b.Cursor(), name: name, limit: walkLimit(tx)}
}

// cursor returns a bounded cursor over the bucket in slot.
func (bs *buckets) cursor(slot int) cursor {
	return bs.cursorOver(bs.bucket(slot), allBuckets[slot])
}

// cursorOver returns a bounded cursor over b, a bucket of bs's transaction
// named name.
func (bs *buckets) cursorOver(b *bolt.Bucket, name []byte) cursor {
	if bs.limit == 0 {
		bs.limit = walkLimit(bs.tx)
	}
	return cursor{c: b.Cursor(), name: name, limit: bs.limit}
}

// rootCursor returns a bounded cursor over the names of tx's top-level
// buckets.
func rootCursor(tx *bolt.Tx) cursor {
	return cursor{c: tx.Cursor(), name: []byte("(root)"), limit: walkLimit(tx)}
}

func (c *cursor) step() {
	if c.steps++; c.steps > c.limit {
		panic(fmt.Errorf("%w: bucket %q: a walk passed %d entries, more than the file can hold: its pages loop", ErrCorrupt, c.name, c.limit))
	}
}

func (c *cursor) outOfOrder(k []byte, want string) {
	panic(fmt.Errorf("%w: bucket %q: after key %q a walk returned key %q, want %s: its pages are out of order or loop", ErrCorrupt, c.name, c.last, k, want))
}

// First moves to the first entry, starting a new walk.
func (c *cursor) First() (k, v []byte) {
	c.steps = 0
	c.step()
	k, v = c.c.First()
	c.last = k
	return k, v
}

// Last moves to the last entry, starting a new walk.
func (c *cursor) Last() (k, v []byte) {
	c.steps = 0
	c.step()
	k, v = c.c.Last()
	c.last = k
	return k, v
}

// Seek moves to the first entry at or after seek.
func (c *cursor) Seek(seek []byte) (k, v []byte) {
	c.step()
	k, v = c.c.Seek(seek)
	if k != nil && bytes.Compare(k, seek) < 0 {
		c.last = seek
		c.outOfOrder(k, "one at or after it")
	}
	c.last = k
	return k, v
}

// Next moves to the next entry.
func (c *cursor) Next() (k, v []byte) {
	c.step()
	k, v = c.c.Next()
	if k != nil && c.last != nil && bytes.Compare(k, c.last) <= 0 {
		c.outOfOrder(k, "one after it")
	}
	c.last = k
	return k, v
}

// Prev moves to the previous entry.
func (c *cursor) Prev() (k, v []byte) {
	c.step()
	k, v = c.c.Prev()
	if k != nil && c.last != nil && bytes.Compare(k, c.last) >= 0 {
		c.outOfOrder(k, "one before it")
	}
	c.last = k
	return k, v
}

// count returns how many entries the bucket in slot holds, by a bounded
// walk. bbolt's Bucket.Stats recurses over the pages unbounded.
func (bs *buckets) count(slot int) int {
	n := 0
	c := bs.cursor(slot)
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}
