package bench

import (
	"bytes"
	"math/rand/v2"

	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// Sizes of the lookup samples taken from a generated log.
const (
	probeOps  = 4096 // op ids for Latest
	probeKeys = 2048 // applied keys for AlreadyApplied
)

// logProbe watches a legacy log being written (it is an io.Writer to tee
// Generate into) and keeps a uniform random sample of its op ids and of its
// applied keys (reservoir sampling), the lookups' targets. It parses only
// the lines it keeps.
type logProbe struct {
	rng     *rand.Rand
	partial []byte // the current line, when a Write ended mid-line
	lines   int
	applied int // succeeded lines with a key seen
	ops     []string
	keys    []string
}

func newLogProbe(seed uint64) *logProbe {
	return &logProbe{rng: rand.New(rand.NewPCG(seed, 0x70726f6265))}
}

var (
	succeededField = []byte(`"state":"succeeded"`)
	keyField       = []byte(`"idemp_key":`)
)

func (p *logProbe) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			break
		}
		line := b[:i]
		if len(p.partial) > 0 {
			line = append(p.partial, line...)
			p.partial = p.partial[:0]
		}
		p.line(line)
		b = b[i+1:]
	}
	return n, nil
}

func (p *logProbe) line(line []byte) {
	p.lines++
	if slot := keep(p.rng, p.lines, len(p.ops), probeOps); slot >= 0 {
		if e, ok := parse(line); ok {
			p.ops = put(p.ops, slot, e.OpID)
		}
	}
	if !bytes.Contains(line, succeededField) || !bytes.Contains(line, keyField) {
		return
	}
	p.applied++
	if slot := keep(p.rng, p.applied, len(p.keys), probeKeys); slot >= 0 {
		if e, ok := parse(line); ok && e.IdempKey != "" {
			p.keys = put(p.keys, slot, e.IdempKey)
		}
	}
}

// keep decides whether the seen-th item (counting from 1) goes into a
// reservoir of size slots holding have items: the slot to put it in, or -1.
func keep(rng *rand.Rand, seen, have, size int) int {
	if have < size {
		return have
	}
	if j := rng.IntN(seen); j < size {
		return j
	}
	return -1
}

func put(s []string, slot int, v string) []string {
	if slot == len(s) {
		return append(s, v)
	}
	s[slot] = v
	return s
}

func parse(line []byte) (store.JournalEntry, bool) {
	e, ok, err := jsonl.ParseLine(line)
	return e, ok && err == nil
}
