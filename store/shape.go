package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// The shape check proves that the file's B+trees are trees: every page
// reached from the meta page is reached once, lies within the file, is a
// branch or a leaf, and its overflow pages lie within the file too. bbolt
// trusts the page ids it finds: on a tree that loops back on itself its
// descents (Get, Seek, First) loop until memory runs out or recurse until the
// stack does, which no recover catches, and its own page check (tx.Check)
// recurses the same way. So Open runs the shape check before any read, and
// Check before bbolt's.
//
// It reads pages through the file descriptor (pread), not the memory map:
// a page beyond the end of the file is an error, not a fault.
//
// bbolt's page format, as this file reads it (little-endian):
//
//	page header (16 bytes): id uint64, flags uint16, count uint16, overflow uint32
//	branch element (16 bytes): pos uint32, ksize uint32, pgid uint64
//	leaf element (16 bytes): flags uint32, pos uint32, ksize uint32, vsize uint32
//	meta (after the page header): magic, version, page size, flags uint32;
//	    root bucket (root pgid uint64, sequence uint64); freelist, pgid, txid uint64
//	bucket value: root pgid uint64, sequence uint64, then the page of an
//	    inline bucket (root pgid 0)
//
// Element pos is relative to the element itself.
const (
	pageHeaderSize  = 16
	pageElementSize = 16
	inBucketSize    = 16

	pageBranch   = 0x01
	pageLeaf     = 0x02
	pageFreelist = 0x10

	leafBucketFlag = 0x01

	metaRootOffset     = pageHeaderSize + 16
	metaFreelistOffset = pageHeaderSize + 32
	metaPgidOffset     = pageHeaderSize + 40
	metaTxidOffset     = pageHeaderSize + 48
	pgidNoFreelist     = ^uint64(0)
)

// shapeCheck walks the page trees of one transaction.
type shapeCheck struct {
	ctx      context.Context
	f        *os.File
	pageSize int
	npages   uint64   // the high water mark in the meta page
	seen     []uint64 // bitmap of the pages reached
	buf      []byte
	head     [pageHeaderSize + pageElementSize]byte
	// full reads every page. Otherwise the leaves of the buckets are not
	// read but checked by id alone: within the file and reached once. A
	// B+tree has all its leaves at one depth, which the first elements'
	// path from the root gives: pages above it are read, pages at it are
	// not. An element of a lowest branch that points to a branch rather
	// than a leaf thus goes unnoticed unless that page is reached
	// elsewhere too, which any live page is.
	full     bool
	problems []string
	max      int // stop after this many problems
	visits   int // pages reached
	preads   int // pages (and headers) read
}

// treeShape checks the shape of every page tree of tx's file (f is the
// database file bbolt has open). full reads every page, as Check does; else
// only branch pages and one leaf per tree, as Open does. It
// returns the problems found, at most max, or ctx's error.
func treeShape(ctx context.Context, tx *bolt.Tx, f *os.File, full bool, max int) ([]string, error) {
	s, err := runShape(ctx, tx, f, full, max)
	return s.problems, err
}

// runShape is treeShape, returning the whole walk.
func runShape(ctx context.Context, tx *bolt.Tx, f *os.File, full bool, max int) (*shapeCheck, error) {
	s := &shapeCheck{ctx: ctx, f: f, pageSize: tx.DB().Info().PageSize, full: full, max: max}
	s.npages = uint64(tx.Size()) / uint64(s.pageSize)
	s.seen = make([]uint64, (s.npages+63)/64)
	s.buf = make([]byte, s.pageSize)
	txid := uint64(tx.ID())
	if tx.Writable() {
		txid-- // a writable transaction has the next id
	}
	var meta []byte
	for id := uint64(0); id < 2 && meta == nil; id++ {
		p, err := s.read(id, 0)
		if err != nil {
			return s, err
		}
		if binary.LittleEndian.Uint64(p[metaTxidOffset:]) == txid {
			meta = p
		}
	}
	if meta == nil {
		s.problem("meta: no meta page holds transaction %d", txid)
		return s, nil
	}
	if got := binary.LittleEndian.Uint64(meta[metaPgidOffset:]); got != s.npages {
		s.problem("meta: %d pages, bbolt maps %d", got, s.npages)
		return s, nil
	}
	root := binary.LittleEndian.Uint64(meta[metaRootOffset:])
	freelist := binary.LittleEndian.Uint64(meta[metaFreelistOffset:])
	s.mark(0)
	s.mark(1)
	if freelist != pgidNoFreelist && freelist >= 2 && freelist < s.npages {
		if p, err := s.read(freelist, 0); err == nil && p[8]&pageFreelist != 0 {
			n := uint64(binary.LittleEndian.Uint32(p[12:]))
			for id := freelist; id <= freelist+n && id < s.npages; id++ {
				s.mark(id)
			}
		}
	}
	return s, s.tree(root)
}

// visit is a page still to visit.
type visit struct {
	id    uint64
	where string // the bucket, for the problem
	// read: read the page (else check its id only, as a leaf).
	read   bool
	isRoot bool   // in the root tree, whose leaves name the buckets
	parent uint64 // 0 for a tree's root
	depth  int    // the tree's root is at 0
	leaves int    // the depth of the tree's leaves; -1 if unknown
}

// reachedFrom says how a page was reached, for a problem.
type reachedFrom struct{ parent uint64 }

func (v visit) from() reachedFrom { return reachedFrom{v.parent} }

func (f reachedFrom) String() string {
	if f.parent == 0 {
		return "as its root"
	}
	return fmt.Sprintf("from page %d", f.parent)
}

// tree walks the root tree, at page id, and the trees of the buckets it
// holds, depth first, without recursion (a damaged tree can be deep).
func (s *shapeCheck) tree(id uint64) error {
	stack := []visit{{id: id, where: "root", read: true, isRoot: true}}
	for len(stack) > 0 && len(s.problems) < s.max {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s.visits++; s.visits%1024 == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
		from := v.from()
		switch {
		case v.id < 2 || v.id >= s.npages:
			s.problem("%s: page %d, reached %s, is not a data page of the file's %d", v.where, v.id, from, s.npages)
			continue
		case s.marked(v.id):
			s.problem("%s: page %d, reached %s, is reached twice: the tree loops or shares a page", v.where, v.id, from)
			continue
		}
		s.mark(v.id)
		if !v.read {
			continue
		}
		if v.parent == 0 {
			v.leaves = s.leafDepth(v.id)
		}
		hdr, err := s.read(v.id, 0)
		if err != nil {
			var short shortPage
			if errors.As(err, &short) {
				s.problem("%s: page %d, reached %s: %v", v.where, v.id, from, err)
				continue
			}
			return err
		}
		flags, count := hdr[8], int(binary.LittleEndian.Uint16(hdr[10:]))
		overflow := uint64(binary.LittleEndian.Uint32(hdr[12:]))
		switch {
		case binary.LittleEndian.Uint64(hdr) != v.id:
			s.problem("%s: page %d, reached %s, says it is page %d", v.where, v.id, from, binary.LittleEndian.Uint64(hdr))
			continue
		case flags != pageBranch && flags != pageLeaf:
			s.problem("%s: page %d, reached %s, is not a branch or a leaf (flags %#x)", v.where, v.id, from, flags)
			continue
		case v.id+overflow >= s.npages:
			s.problem("%s: page %d, reached %s, overflows by %d pages past the file's %d", v.where, v.id, from, overflow, s.npages)
			continue
		case pageHeaderSize+count*pageElementSize > int(1+overflow)*s.pageSize:
			s.problem("%s: page %d: %d elements do not fit in %d pages", v.where, v.id, count, 1+overflow)
			continue
		case flags == pageBranch && count == 0:
			s.problem("%s: branch page %d has no elements", v.where, v.id)
			continue
		case v.leaves >= 0 && (flags == pageLeaf) != (v.depth == v.leaves):
			s.problem("%s: page %d, reached %s, is a %s at depth %d, where the tree's leaves are at depth %d", v.where, v.id, from, pageKind(flags), v.depth, v.leaves)
			continue
		}
		for o := v.id + 1; o <= v.id+overflow; o++ {
			if s.marked(o) {
				s.problem("%s: overflow page %d of page %d is reached twice", v.where, o, v.id)
			}
			s.mark(o)
		}
		if flags == pageLeaf && !s.full && !v.isRoot {
			continue // a bucket's entries, which only a full check reads
		}
		p := hdr
		if overflow > 0 {
			if p, err = s.read(v.id, overflow); err != nil {
				return err
			}
		}
		elems := p[pageHeaderSize:]
		if flags == pageBranch {
			read := s.full || v.isRoot || v.leaves < 0 || v.depth+1 < v.leaves
			for i := count - 1; i >= 0; i-- { // pushed last first: visited in order
				child := binary.LittleEndian.Uint64(elems[i*pageElementSize+8:])
				stack = append(stack, visit{id: child, where: v.where, read: read, isRoot: v.isRoot, parent: v.id, depth: v.depth + 1, leaves: v.leaves})
			}
			continue
		}
		for i := range count {
			e := elems[i*pageElementSize:]
			if binary.LittleEndian.Uint32(e)&leafBucketFlag == 0 {
				continue
			}
			pos := i*pageElementSize + int(binary.LittleEndian.Uint32(e[4:]))
			ksize, vsize := int(binary.LittleEndian.Uint32(e[8:])), int(binary.LittleEndian.Uint32(e[12:]))
			if pos < 0 || ksize > len(elems) || vsize < inBucketSize || pos+ksize+vsize > len(elems) || pos+ksize+vsize < pos {
				s.problem("%s: page %d: bucket element %d lies outside the page", v.where, v.id, i)
				continue
			}
			name := fmt.Sprintf("bucket %q", elems[pos:pos+ksize])
			if !v.isRoot {
				name = v.where + "/" + name
			}
			if child := binary.LittleEndian.Uint64(elems[pos+ksize:]); child != 0 {
				stack = append(stack, visit{id: child, where: name, read: true, parent: 0})
			} else if p := inlinePageProblem(elems[pos+ksize+inBucketSize : pos+ksize+vsize]); p != "" {
				s.problem("%s: page %d: the bucket's inline page %s", name, v.id, p)
			}
		}
	}
	return nil
}

// inlinePageProblem says what is wrong with the page of an inline bucket
// (one small enough to live in its parent's leaf, after its header), or
// returns "". It must be a leaf whose elements lie inside it, none of them
// a bucket: bbolt reads a branch flag there as a branch and indexes past
// the value.
func inlinePageProblem(p []byte) string {
	if len(p) < pageHeaderSize {
		return fmt.Sprintf("is %d bytes, shorter than a page header", len(p))
	}
	flags, count := p[8], int(binary.LittleEndian.Uint16(p[10:]))
	if flags != pageLeaf {
		return fmt.Sprintf("is not a leaf (flags %#x)", flags)
	}
	elems := p[pageHeaderSize:]
	if count*pageElementSize > len(elems) {
		return fmt.Sprintf("holds %d elements that do not fit in it", count)
	}
	for i := range count {
		e := elems[i*pageElementSize:]
		pos := i*pageElementSize + int(binary.LittleEndian.Uint32(e[4:]))
		ksize, vsize := int(binary.LittleEndian.Uint32(e[8:])), int(binary.LittleEndian.Uint32(e[12:]))
		if binary.LittleEndian.Uint32(e)&leafBucketFlag != 0 {
			return fmt.Sprintf("holds a bucket (element %d)", i)
		}
		if pos < 0 || ksize > len(elems) || vsize > len(elems) || pos+ksize+vsize > len(elems) || pos+ksize+vsize < pos {
			return fmt.Sprintf("has element %d outside it", i)
		}
	}
	return ""
}

// maxTreeDepth is deeper than any sound tree: a branch has at least two
// elements, so a tree of that depth has more pages than a file can.
const maxTreeDepth = 64

// leafDepth returns the depth of the leaves of the tree rooted at id,
// following the first element of each branch, or -1 if that path is not a
// sound one (out of the file, neither branch nor leaf, too deep): the walk
// then reads every page of the tree and says what is wrong. It reads the
// header and first element of each page into a buffer of its own.
func (s *shapeCheck) leafDepth(id uint64) int {
	for d := 0; d <= maxTreeDepth; d++ {
		if id < 2 || id >= s.npages {
			return -1
		}
		s.preads++
		if _, err := s.f.ReadAt(s.head[:], int64(id)*int64(s.pageSize)); err != nil {
			return -1
		}
		switch {
		case s.head[8] == pageLeaf:
			return d
		case s.head[8] != pageBranch || binary.LittleEndian.Uint16(s.head[10:]) == 0:
			return -1
		}
		id = binary.LittleEndian.Uint64(s.head[pageHeaderSize+8:])
	}
	return -1
}

func pageKind(flags byte) string {
	if flags == pageLeaf {
		return "leaf"
	}
	return "branch"
}

func (s *shapeCheck) problem(format string, args ...any) {
	if len(s.problems) < s.max {
		s.problems = append(s.problems, fmt.Sprintf(format, args...))
	}
}

func (s *shapeCheck) mark(id uint64)        { s.seen[id/64] |= 1 << (id % 64) }
func (s *shapeCheck) marked(id uint64) bool { return s.seen[id/64]&(1<<(id%64)) != 0 }

// shortPage is a page that lies, wholly or partly, past the end of the file.
type shortPage struct{ id, overflow uint64 }

func (e shortPage) Error() string {
	return fmt.Sprintf("page %d (with %d overflow pages) lies past the end of the file", e.id, e.overflow)
}

// read returns page id and its overflow pages, in a buffer reused by the
// next read.
func (s *shapeCheck) read(id, overflow uint64) ([]byte, error) {
	n := int(1+overflow) * s.pageSize
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	p := s.buf[:n]
	s.preads++
	if _, err := s.f.ReadAt(p, int64(id)*int64(s.pageSize)); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, shortPage{id, overflow}
		}
		return nil, fmt.Errorf("store: read page %d: %w", id, err)
	}
	return p, nil
}

// checkShape is the shape check Open runs: it fails with ErrCorrupt on the
// first problem.
func checkShape(tx *bolt.Tx, f *os.File) error {
	problems, err := treeShape(context.Background(), tx, f, false, 1)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: page tree: %s", ErrCorrupt, problems[0])
	}
	return nil
}
