package jsonl

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/felhom/opjournal/store"
)

// parseFast parses a line exactly as the legacy writer produces it: the
// fields in struct order, optional ones present or omitted, strings without
// escapes or control characters, a canonical integer. It returns ok=false
// for anything else, and the caller falls back to encoding/json. Whatever it
// accepts, json.Unmarshal accepts with the same result (a fuzz test holds it
// to that); it exists because it is several times faster, and migration
// spends most of its time parsing.
func parseFast(b []byte) (e store.JournalEntry, ok bool) {
	p := fastParser{b: b}
	if !p.lit(`{"op_id":`) {
		return e, false
	}
	e.OpID, ok = p.str()
	if !ok || !p.lit(`,"vmid":`) {
		return e, false
	}
	if e.VMID, ok = p.int(); !ok || !p.lit(`,"kind":`) {
		return e, false
	}
	if e.Kind, ok = p.str(); !ok {
		return e, false
	}
	if p.lit(`,"params":{`) {
		if e.Params, ok = p.params(); !ok {
			return e, false
		}
	}
	if p.lit(`,"upid":`) {
		if e.UPID, ok = p.str(); !ok {
			return e, false
		}
	}
	if !p.lit(`,"state":`) {
		return e, false
	}
	state, ok := p.str()
	if !ok {
		return e, false
	}
	e.State = store.OpState(state)
	if p.lit(`,"idemp_key":`) {
		if e.IdempKey, ok = p.str(); !ok {
			return e, false
		}
	}
	if !p.lit(`,"at":`) {
		return e, false
	}
	at, ok := p.raw()
	if !ok || e.At.UnmarshalJSON(at) != nil {
		return e, false
	}
	return e, p.lit(`}`) && p.i == len(p.b)
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// raw returns a plain string with its quotes: no escapes, no control
// characters, valid UTF-8, so that its value is its bytes.
func (p *fastParser) raw() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(p.b[p.i+1:], '"')
	if end < 0 {
		return nil, false
	}
	s := p.b[p.i : p.i+end+2]
	for _, c := range s[1 : len(s)-1] {
		if c < 0x20 || c == '\\' {
			return nil, false
		}
	}
	if !utf8.Valid(s) {
		return nil, false
	}
	p.i += len(s)
	return s, true
}

func (p *fastParser) str() (string, bool) {
	s, ok := p.raw()
	if !ok {
		return "", false
	}
	return string(s[1 : len(s)-1]), true
}

// int accepts a canonical JSON integer that fits an int.
func (p *fastParser) int() (int, bool) {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || (n > 1 && p.b[digits] == '0') {
		return 0, false
	}
	v, err := strconv.Atoi(string(p.b[start:p.i]))
	return v, err == nil
}

// params parses the members of a non-empty object of strings, after its
// opening brace, through its closing brace. Duplicate keys are left to
// encoding/json.
func (p *fastParser) params() (map[string]string, bool) {
	m := make(map[string]string, 4)
	for {
		k, ok := p.str()
		if !ok || !p.lit(":") {
			return nil, false
		}
		v, ok := p.str()
		if !ok {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false
		}
		m[k] = v
		if p.lit("}") {
			return m, true
		}
		if !p.lit(",") {
			return nil, false
		}
	}
}
