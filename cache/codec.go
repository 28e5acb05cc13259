package cache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"time"
)

// Nodes are the most read records (every lookup and listing decodes them),
// so they use a compact binary form instead of JSON: a version byte, then
// the fields in a fixed order as varints and length-prefixed strings.
// Records written by an older drimefs as JSON (first byte '{') still read.

const nodeCodecV1 = 1

var errCorruptNode = errors.New("cache: corrupt node record")

func encodeNode(n *Node) []byte {
	b := make([]byte, 0, 96+len(n.Name)+len(n.RemoteHash)+len(n.RemoteURL)+len(n.RemoteName))
	b = append(b, nodeCodecV1)
	b = binary.AppendUvarint(b, n.ID)
	b = binary.AppendUvarint(b, n.Parent)
	b = appendString(b, n.Name)
	var flags uint64
	if n.Dir {
		flags |= 1
	}
	if n.Dirty {
		flags |= 2
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendVarint(b, n.Size)
	b = appendTime(b, n.Mtime)
	b = appendTime(b, n.Ctime)
	b = binary.AppendUvarint(b, uint64(n.Mode))
	b = binary.AppendVarint(b, n.RemoteID)
	b = appendString(b, n.RemoteHash)
	b = appendString(b, n.RemoteURL)
	b = binary.AppendUvarint(b, n.RemoteParent)
	b = appendString(b, n.RemoteName)
	b = appendTime(b, n.Listed)
	b = binary.AppendUvarint(b, n.Gen)
	b = binary.AppendUvarint(b, n.UploadedGen)
	b = binary.AppendUvarint(b, uint64(len(n.Replaces)))
	for _, r := range n.Replaces {
		b = binary.AppendVarint(b, r)
	}
	return appendTime(b, n.LocalChange)
}

func decodeNode(b []byte, n *Node) error {
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, n)
	}
	if len(b) == 0 || b[0] != nodeCodecV1 {
		return errCorruptNode
	}
	d := decoder{b: b[1:]}
	*n = Node{}
	n.ID = d.uvarint()
	n.Parent = d.uvarint()
	n.Name = d.string()
	flags := d.uvarint()
	n.Dir, n.Dirty = flags&1 != 0, flags&2 != 0
	n.Size = d.varint()
	n.Mtime = d.time()
	n.Ctime = d.time()
	n.Mode = uint32(d.uvarint())
	n.RemoteID = d.varint()
	n.RemoteHash = d.string()
	n.RemoteURL = d.string()
	n.RemoteParent = d.uvarint()
	n.RemoteName = d.string()
	n.Listed = d.time()
	n.Gen = d.uvarint()
	n.UploadedGen = d.uvarint()
	if k := d.uvarint(); k > 0 && k < math.MaxInt32 {
		n.Replaces = make([]int64, 0, k)
		for i := uint64(0); i < k && d.err == nil; i++ {
			n.Replaces = append(n.Replaces, d.varint())
		}
	}
	n.LocalChange = d.time()
	return d.err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendTime stores a time as Unix nanoseconds; the zero time as 0.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorruptNode
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorruptNode
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	l := d.uvarint()
	if d.err != nil {
		return ""
	}
	if l > uint64(len(d.b)) {
		d.err = errCorruptNode
		return ""
	}
	s := string(d.b[:l])
	d.b = d.b[l:]
	return s
}

func (d *decoder) time() time.Time {
	v := d.varint()
	if v == 0 || d.err != nil {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}
