package codec

import (
	"bytes"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// BenchmarkDecodeRecord decodes a typical record (what every lookup does
// once) with the codec's parser, and the same body with the msgpack
// library's decoder into the same fields, without the codec's checks.
func BenchmarkDecodeRecord(b *testing.B) {
	r := Record{OpID: "op-00012345", VMID: 345, Kind: "set_config", Params: map[string]string{"cores": "4", "memory": "4096", "node": "pve-node1"},
		UPID: "UPID:pve-node1:0001F2A3:00B3C4D5:65A1B2C3:qmstart:101:root@pam:", State: "succeeded", IdempKey: "job-00012345", At: time.Unix(1.7e9, 0)}
	v, err := EncodeRecord(&r)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=codec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeRecord(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=msgpack", func(b *testing.B) {
		b.ReportAllocs()
		body := v[versionSize : len(v)-crcSize]
		var br bytes.Reader
		d := msgpack.NewDecoder(&br)
		for b.Loop() {
			br.Reset(body)
			d.ResetReader(&br)
			var rec Record
			var err error
			if _, err = d.DecodeArrayLen(); err != nil {
				b.Fatal(err)
			}
			rec.OpID, _ = d.DecodeString()
			rec.VMID, _ = d.DecodeInt()
			rec.Kind, _ = d.DecodeString()
			n, _ := d.DecodeMapLen()
			rec.Params = make(map[string]string, n)
			for range n {
				k, _ := d.DecodeString()
				rec.Params[k], _ = d.DecodeString()
			}
			rec.UPID, _ = d.DecodeString()
			rec.State, _ = d.DecodeString()
			rec.IdempKey, _ = d.DecodeString()
			sec, _ := d.DecodeInt64()
			nsec, err := d.DecodeInt64()
			if err != nil {
				b.Fatal(err)
			}
			rec.At = time.Unix(sec, nsec).UTC()
		}
	})
}
