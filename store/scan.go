package store

import "fmt"

// Record returns the record with sequence number seq if it belongs to
// opID. Records are numbered 1, 2, 3, ... in append order across the whole
// journal; a migration numbers them in the order of the legacy log's lines.
func (j *Journal) Record(opID string, seq uint64) (e JournalEntry, ok bool, err error) {
	err = j.View(func(s *Snapshot) error {
		e, ok, err = s.Record(opID, seq)
		return err
	})
	return e, ok, err
}

// ForEachRecord calls fn with every record and its sequence number, in
// commit order (by sequence number), inside one read transaction: a
// consistent snapshot while appends go on. fn must not call the Journal.
// An error from fn stops the walk and is returned. ForEachChange walks the
// same order in short transactions.
func (j *Journal) ForEachRecord(fn func(seq uint64, e JournalEntry) error) error {
	var p any
	defer func() { rethrow(p) }()
	return j.view(func(bs *buckets) error {
		c := bs.cursor(slotRecords)
		for k, v := c.First(); k != nil; k, v = c.Next() {
			seq, err := parseSeqKey(k)
			if err != nil {
				return err
			}
			e, err := decodeEntry(seq, "", v)
			if err != nil {
				return err
			}
			if err := callUser(func() error { return fn(seq, e) }, &p); err != nil {
				return err
			}
		}
		return nil
	})
}

// ForEachOp calls fn with every op's latest record in op id order (bytewise),
// inside one read transaction. fn must not call the Journal.
func (j *Journal) ForEachOp(fn func(latest JournalEntry) error) error {
	var p any
	defer func() { rethrow(p) }()
	return j.view(func(bs *buckets) error {
		// opseqs lists the ops up to the merge mark; the ops only the
		// tail lists go in between, in order.
		only, err := bs.tailOnly()
		if err != nil {
			return err
		}
		// listed is the op's opseqs value, nil for an op only the tail lists.
		visit := func(op string, listed []byte) error {
			e, ok, err := bs.latestEntry(op, listed)
			if err != nil {
				return err
			}
			if !ok {
				return corrupt("opseqs", []byte(op), fmt.Errorf("op has no record"))
			}
			return callUser(func() error { return fn(e) }, &p)
		}
		c := bs.cursor(slotOpSeqs)
		for k, v := c.First(); k != nil; k, v = c.Next() {
			for len(only) > 0 && only[0] < string(k) {
				if err := visit(only[0], nil); err != nil {
					return err
				}
				only = only[1:]
			}
			if err := visit(string(k), v); err != nil {
				return err
			}
		}
		for _, op := range only {
			if err := visit(op, nil); err != nil {
				return err
			}
		}
		return nil
	})
}
