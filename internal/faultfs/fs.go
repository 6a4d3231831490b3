//go:build linux

package faultfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Kind is the kind of a recorded operation.
type Kind uint8

// The operations the record holds.
const (
	Write    Kind = iota + 1 // File, Off, Data
	Truncate                 // File, Size
	Sync                     // File (fsync or fdatasync)
	Create                   // Name, File (a new, empty file)
	Link                     // Name, File (an existing file)
	Rename                   // Name -> NewName
	Unlink                   // Name
	SyncDir                  // the root directory
)

var kindNames = [...]string{"?", "write", "truncate", "sync", "create", "link", "rename", "unlink", "syncdir"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "?"
}

// Op is one recorded operation. Files are named by an id the record gives
// each file when it is created (or found at mount), so that renames do not
// confuse them.
type Op struct {
	Kind    Kind
	File    int
	Name    string
	NewName string
	Off     int64
	Size    int64
	Data    []byte
}

func (o Op) String() string {
	switch o.Kind {
	case Write:
		return fmt.Sprintf("write f%d [%d,%d)", o.File, o.Off, o.Off+int64(len(o.Data)))
	case Truncate:
		return fmt.Sprintf("truncate f%d %d", o.File, o.Size)
	case Sync:
		return fmt.Sprintf("sync f%d", o.File)
	case Create, Link:
		return fmt.Sprintf("%s %q f%d", o.Kind, o.Name, o.File)
	case Rename:
		return fmt.Sprintf("rename %q %q", o.Name, o.NewName)
	case Unlink:
		return fmt.Sprintf("unlink %q", o.Name)
	}
	return o.Kind.String()
}

// FS is a mounted faultfs.
type FS struct {
	Mountpoint string
	Backing    string

	server *fuse.Server

	mu      sync.Mutex
	ops     []Op
	ids     map[uint64]int // backing inode number -> file id
	next    int
	initial map[string]int  // name -> file id, at mount
	data    map[int][]byte  // file id -> content, at mount
	err     error           // the first operation the model does not cover
	marks   map[string]int  // named positions
	sockets map[string]bool // Unix sockets bound in the root, not modelled
}

// Available says why FUSE mounts are impossible here, or "" if they are not.
func Available() string {
	if os.Geteuid() != 0 {
		return "faultfs mounts need root (mount(2) without fusermount)"
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Sprintf("faultfs needs /dev/fuse: %v", err)
	}
	_ = f.Close()
	return ""
}

// Mount mounts a faultfs of backing (a directory of regular files only, which
// count as durable) on mountpoint.
func Mount(backing, mountpoint string) (*FS, error) {
	ents, err := os.ReadDir(backing)
	if err != nil {
		return nil, err
	}
	f := &FS{
		Mountpoint: mountpoint, Backing: backing,
		ids: map[uint64]int{}, initial: map[string]int{}, data: map[int][]byte{}, marks: map[string]int{},
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("faultfs: %s: only regular files are modelled", filepath.Join(backing, e.Name()))
		}
		p := filepath.Join(backing, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return nil, err
		}
		id, ok := f.ids[st.Ino]
		if !ok {
			id = f.newID(st.Ino)
			f.data[id] = b
		}
		f.initial[e.Name()] = id
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, err
	}
	root := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	//lint:ignore SA1019 the loopback of the pinned go-fuse builds its children through NewNode
	root.NewNode = func(r *fs.LoopbackRoot, parent *fs.Inode, name string, st *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, fs: f}
	}
	rootNode := &node{LoopbackNode: fs.LoopbackNode{RootData: root}, fs: f, root: true}
	root.RootNode = rootNode
	zero := time.Duration(0)
	opts := &fs.Options{
		EntryTimeout: &zero, AttrTimeout: &zero, NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			FsName:            "faultfs",
			Name:              "faultfs",
			DisableXAttrs:     true,
			MaxWrite:          1 << 20,
		},
	}
	srv, err := fs.Mount(mountpoint, rootNode, opts)
	if err != nil {
		return nil, fmt.Errorf("faultfs: mount %s: %w", mountpoint, err)
	}
	f.server = srv
	return f, nil
}

// Unmount unmounts the file system, lazily if it is busy.
func (f *FS) Unmount() error {
	err := f.server.Unmount()
	if err != nil {
		if lerr := syscall.Unmount(f.Mountpoint, syscall.MNT_DETACH); lerr == nil {
			err = nil
		}
	}
	return err
}

// UnmountStale lazily unmounts whatever is mounted on dir, if anything.
func UnmountStale(dir string) { _ = syscall.Unmount(dir, syscall.MNT_DETACH) }

func (f *FS) newID(ino uint64) int {
	f.next++
	f.ids[ino] = f.next
	return f.next
}

// Len is the number of operations recorded so far: a position in the record.
func (f *FS) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ops)
}

// Err is the first operation the model does not cover, if any: a record with
// one is not a faithful model of the directory.
func (f *FS) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// History returns the record so far.
func (f *FS) History() *History {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := &History{Ops: append([]Op(nil), f.ops...), Initial: map[string]int{}, Data: map[int][]byte{}}
	for k, v := range f.initial {
		h.Initial[k] = v
	}
	for k, v := range f.data {
		h.Data[k] = v
	}
	return h
}

func (f *FS) unmodelled(format string, args ...any) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = fmt.Errorf("faultfs: not modelled: "+format, args...)
	}
	return syscall.EPERM
}

// do runs op on the backing directory and, if it succeeds, records what
// rec returns, both under the record's lock so that the record's order is
// the order the backing directory saw.
func (f *FS) do(op func() syscall.Errno, rec func() (Op, bool)) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno := op(); errno != 0 {
		return errno
	}
	if o, ok := rec(); ok {
		f.ops = append(f.ops, o)
	}
	return 0
}

func (f *FS) idOf(ino uint64) int {
	id, ok := f.ids[ino]
	if !ok {
		// A file the record has not seen created: cannot happen in a
		// modelled directory, where every file is found at mount or
		// created through the mount.
		if f.err == nil {
			f.err = fmt.Errorf("faultfs: inode %d of unknown origin", ino)
		}
		id = f.newID(ino)
	}
	return id
}

// node is a loopback node that records what changes the directory.
type node struct {
	fs.LoopbackNode
	fs   *FS
	root bool
}

func (n *node) backingPath(name string) string {
	return filepath.Join(n.RootData.Path, n.EmbeddedInode().Path(nil), name)
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, n.fs.unmodelled("mkdir %s", name)
}

// Mknod makes a Unix socket (a journal's live endpoint binds one beside
// it) without recording it: a socket holds no data, and a stale one left by
// a crash is replaced by the next Open, so it has no part in crash states.
// Any other node is not modelled.
func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !n.root || mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return nil, n.fs.unmodelled("mknod %s", name)
	}
	inode, errno := n.LoopbackNode.Mknod(ctx, name, mode, rdev, out)
	if errno == 0 {
		n.fs.mu.Lock()
		if n.fs.sockets == nil {
			n.fs.sockets = map[string]bool{}
		}
		n.fs.sockets[name] = true
		n.fs.mu.Unlock()
	}
	return inode, errno
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, n.fs.unmodelled("symlink %s", name)
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.fs.unmodelled("rmdir %s", name)
}

func (n *node) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, len uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.EOPNOTSUPP
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (inode *fs.Inode, fh fs.FileHandle, fuseFlags uint32, errno syscall.Errno) {
	if !n.root {
		return nil, nil, 0, n.fs.unmodelled("create %s outside the root", name)
	}
	var existed bool
	errno = n.fs.do(func() syscall.Errno {
		_, err := os.Lstat(n.backingPath(name))
		existed = err == nil
		inode, fh, fuseFlags, errno = n.LoopbackNode.Create(ctx, name, flags, mode, out)
		return errno
	}, func() (Op, bool) {
		lf := fh.(*fs.LoopbackFile)
		ino, err := lfIno(lf)
		if err != nil {
			return Op{}, false
		}
		if existed {
			// O_CREAT of an existing file: no new entry.
			id := n.fs.idOf(ino)
			fh = &file{LoopbackFile: lf, fs: n.fs, id: id}
			if flags&syscall.O_TRUNC != 0 {
				return Op{Kind: Truncate, File: id}, true
			}
			return Op{}, false
		}
		id := n.fs.newID(ino)
		fh = &file{LoopbackFile: lf, fs: n.fs, id: id}
		return Op{Kind: Create, Name: name, File: id}, true
	})
	return inode, fh, fuseFlags, errno
}

func lfIno(lf *fs.LoopbackFile) (uint64, error) {
	var out fuse.AttrOut
	if errno := lf.Getattr(context.Background(), &out); errno != 0 {
		return 0, errno
	}
	return out.Ino, nil
}

func (n *node) Open(ctx context.Context, flags uint32) (fh fs.FileHandle, fuseFlags uint32, errno syscall.Errno) {
	errno = n.fs.do(func() syscall.Errno {
		fh, fuseFlags, errno = n.LoopbackNode.Open(ctx, flags)
		return errno
	}, func() (Op, bool) {
		lf := fh.(*fs.LoopbackFile)
		ino, err := lfIno(lf)
		if err != nil {
			return Op{}, false
		}
		id := n.fs.idOf(ino)
		fh = &file{LoopbackFile: lf, fs: n.fs, id: id}
		if flags&syscall.O_TRUNC != 0 {
			return Op{Kind: Truncate, File: id}, true
		}
		return Op{}, false
	})
	return fh, fuseFlags, errno
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var ch *fs.Inode
	errno := n.fs.do(func() syscall.Errno {
		var errno syscall.Errno
		ch, errno = n.LoopbackNode.Link(ctx, target, name, out)
		return errno
	}, func() (Op, bool) {
		var st syscall.Stat_t
		if err := syscall.Lstat(n.backingPath(name), &st); err != nil {
			return Op{}, false
		}
		return Op{Kind: Link, Name: name, File: n.fs.idOf(st.Ino)}, true
	})
	return ch, errno
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	n.fs.mu.Lock()
	socket := n.fs.sockets[name]
	if socket {
		delete(n.fs.sockets, name)
		n.fs.sockets[newName] = true
	}
	n.fs.mu.Unlock()
	if socket {
		return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags) // not modelled, see Mknod
	}
	if np, ok := newParent.(*node); !ok || !np.root || !n.root {
		return n.fs.unmodelled("rename %s to another directory", name)
	}
	if flags&^unix_RENAME_NOREPLACE != 0 {
		return n.fs.unmodelled("rename %s with flags %#x", name, flags)
	}
	return n.fs.do(func() syscall.Errno {
		return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	}, func() (Op, bool) {
		return Op{Kind: Rename, Name: name, NewName: newName}, true
	})
}

const unix_RENAME_NOREPLACE = 1

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	n.fs.mu.Lock()
	socket := n.fs.sockets[name]
	delete(n.fs.sockets, name)
	n.fs.mu.Unlock()
	if socket {
		return n.LoopbackNode.Unlink(ctx, name) // not modelled, see Mknod
	}
	return n.fs.do(func() syscall.Errno {
		return n.LoopbackNode.Unlink(ctx, name)
	}, func() (Op, bool) {
		return Op{Kind: Unlink, Name: name}, true
	})
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	id := 0
	if fh, ok := f.(*file); ok {
		f, id = fh.LoopbackFile, fh.id
	}
	return n.fs.do(func() syscall.Errno {
		return n.LoopbackNode.Setattr(ctx, f, in, out)
	}, func() (Op, bool) {
		size, ok := in.GetSize()
		if !ok {
			return Op{}, false
		}
		if id == 0 {
			var st syscall.Stat_t
			if err := syscall.Lstat(n.backingPath(""), &st); err != nil {
				if n.fs.err == nil {
					n.fs.err = fmt.Errorf("faultfs: truncate of a file without a name or handle: %v", err)
				}
				return Op{}, false
			}
			id = n.fs.idOf(st.Ino)
		}
		return Op{Kind: Truncate, File: id, Size: int64(size)}, true
	})
}

// Fsync of a node without a file handle, or of the directory when the
// kernel sends FSYNCDIR without one.
func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if fh, ok := f.(*file); ok {
		return fh.Fsync(ctx, flags)
	}
	if n.root {
		return n.fs.do(func() syscall.Errno { return 0 }, func() (Op, bool) { return Op{Kind: SyncDir}, true })
	}
	return n.fs.do(func() syscall.Errno { return 0 }, func() (Op, bool) {
		var st syscall.Stat_t
		if err := syscall.Lstat(n.backingPath(""), &st); err != nil {
			if n.fs.err == nil {
				n.fs.err = fmt.Errorf("faultfs: fsync of a file without a name or handle: %v", err)
			}
			return Op{}, false
		}
		return Op{Kind: Sync, File: n.fs.idOf(st.Ino)}, true
	})
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, ff, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return &dir{inner: fh, n: n}, ff, 0
}

// dir is a directory handle whose fsync is recorded.
type dir struct {
	inner fs.FileHandle
	n     *node
}

func (d *dir) Releasedir(ctx context.Context, flags uint32) {
	if r, ok := d.inner.(fs.FileReleasedirer); ok {
		r.Releasedir(ctx, flags)
	}
}

func (d *dir) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if s, ok := d.inner.(fs.FileSeekdirer); ok {
		return s.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

func (d *dir) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	return d.inner.(fs.FileReaddirenter).Readdirent(ctx)
}

func (d *dir) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	if !d.n.root {
		return d.n.fs.unmodelled("fsync of a directory other than the root")
	}
	return d.n.fs.do(func() syscall.Errno { return 0 }, func() (Op, bool) { return Op{Kind: SyncDir}, true })
}

// file is an open file whose writes, truncates and syncs are recorded.
type file struct {
	*fs.LoopbackFile
	fs *FS
	id int
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	var n uint32
	errno := f.fs.do(func() syscall.Errno {
		var errno syscall.Errno
		n, errno = f.LoopbackFile.Write(ctx, data, off)
		return errno
	}, func() (Op, bool) {
		return Op{Kind: Write, File: f.id, Off: off, Data: append([]byte(nil), data[:n]...)}, n > 0
	})
	return n, errno
}

// Writev writes the pieces as one write.
func (f *file) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	var all []byte
	for _, d := range data {
		all = append(all, d...)
	}
	return f.Write(ctx, all, off)
}

// PassthroughFd refuses kernel passthrough, which would bypass the record.
func (f *file) PassthroughFd() (int, bool) { return 0, false }

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	// Not passed on: the backing directory's durability is never tested.
	return f.fs.do(func() syscall.Errno { return 0 }, func() (Op, bool) { return Op{Kind: Sync, File: f.id}, true })
}

func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	errno := f.fs.do(func() syscall.Errno {
		return f.LoopbackFile.Setattr(ctx, in, out)
	}, func() (Op, bool) {
		size, ok := in.GetSize()
		return Op{Kind: Truncate, File: f.id, Size: int64(size)}, ok
	})
	return errno
}

func (f *file) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	return syscall.EOPNOTSUPP
}
