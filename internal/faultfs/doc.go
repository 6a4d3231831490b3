// Package faultfs is a file system for tests that forgets what a power cut
// would: a FUSE loopback over a backing directory that records every
// operation that changes it, and builds, from that record, the directories a
// disk could hold after power is lost at any point of it.
//
// # The model
//
// The model is strict, the weakest that POSIX promises:
//
//   - A file's data and size are durable once an fsync or fdatasync of the
//     file returns (both count the same). Writes and truncates after it are
//     not: a crash keeps any subset of them, and a write that is kept may
//     be torn, keeping only some of its 512-byte sectors.
//   - A directory entry (create, link, rename, unlink) is durable once an
//     fsync of its directory returns. Before that a crash keeps any subset
//     of the pending entry operations, applied in their order, with their
//     dependencies: a link to a file whose creation was dropped is dropped
//     too, and so is a rename or unlink of a name that is not there.
//   - A file's content and its names are independent: fsync of a file does
//     not make its name durable, nor does fsync of a directory make the
//     data of its files durable.
//   - Files in the backing directory when it is mounted are durable as they
//     are.
//
// It does not simulate disks that lie about flushes (a flush that returns
// is durable), reordering or tearing inside a 512-byte sector, bit rot, or
// metadata other than names, data and size (modes, owners, times).
//
// Only one directory, the mount's root, is modelled: creating a directory,
// a symbolic link or a device under it is refused (EPERM) and reported by
// Err. Unix sockets (a journal's live endpoint) are made, renamed and removed but not
// recorded: they hold no data, and a stale one is replaced at the next Open. Writes reach the file system as they happen (no writeback cache);
// reads go through the kernel's page cache, so a mapped file (bbolt maps
// its file read-only) works. fsync and fdatasync are recorded but not
// passed to the backing directory, whose own durability is never tested.
//
// A process must not touch the mount from the goroutines that serve it:
// run the workload in another process (the tests re-execute their own
// binary), and read the record in the parent.
//
// # The harness
//
// Record mounts a faultfs over a fresh directory, runs a workload child in
// it (the test binary again, with ChildEnv naming the workload) and returns
// the record with the child's acknowledgements. The child calls Ack after
// each operation that must survive (an Append that returned); the parent
// notes the record's length when it reads the line and only then lets the
// child go on, so an ack binds exactly the crash points from where its
// operation returned. A crash point is a length of the record: CrashPoints
// are those just before and just after each sync, directory sync, rename,
// link and unlink; a SIGKILLed child (Record's killAfter) gives the point
// where it died. States draws crash states at the points (every pending
// operation dropped, every one kept, and random subsets by seed), and
// Explore builds each one where the workload ran and runs the test's check
// on it with the acks that bind it, checking each distinct state once.
// Every run that ends normally is also replayed with every operation kept
// and compared with the backing directory: the record is complete.
package faultfs
