package emulator

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/rs/zerolog"
)

// layout names the files of the data dir.
type layout struct{ root string }

func (l layout) meta() string                  { return filepath.Join(l.root, "meta") }
func (l layout) objects() string               { return filepath.Join(l.root, "objects") }
func (l layout) tmp() string                   { return filepath.Join(l.root, "tmp") }
func (l layout) objDir(uuid string) string     { return filepath.Join(l.objects(), uuid) }
func (l layout) objFile(uuid, n string) string { return filepath.Join(l.objects(), uuid, n) }

// cleanTmp removes files left by transfers a crash interrupted.
func (l layout) cleanTmp() error {
	names, err := os.ReadDir(l.tmp())
	if err != nil {
		return fmt.Errorf("list tmp dir: %w", err)
	}
	for _, d := range names {
		_ = os.RemoveAll(filepath.Join(l.tmp(), d.Name()))
	}
	return nil
}

// collectGarbage removes object files no metadata names: the leftovers of a
// crash between a rename and its journal record, or before a file removal.
func (l layout) collectGarbage(st *state, log zerolog.Logger) {
	keep := make(map[string]map[string]bool)
	for _, o := range st.objects {
		m := make(map[string]bool)
		for _, f := range o.Files {
			m[f.Name] = true
		}
		keep[o.UUID] = m
	}
	for _, u := range st.uploads {
		m := keep[u.UUID]
		if m == nil {
			m = make(map[string]bool)
			keep[u.UUID] = m
		}
		for _, p := range u.Parts {
			m[p.File] = true
		}
	}
	dirs, err := os.ReadDir(l.objects())
	if err != nil {
		log.Warn().Err(err).Msg("emulator: list objects")
		return
	}
	for _, d := range dirs {
		m, ok := keep[d.Name()]
		if !ok {
			_ = os.RemoveAll(l.objDir(d.Name()))
			continue
		}
		files, err := os.ReadDir(l.objDir(d.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			if !m[f.Name()] {
				_ = os.Remove(l.objFile(d.Name(), f.Name()))
			}
		}
	}
}

// received is a body stored in a temp file.
type received struct {
	tmp  string
	size int64
	md5  string // hex, when asked for
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// receive streams body into a new temp file, computing MD5 when withMD5.
// On error the temp file is removed.
func (s *Server) receive(ctx context.Context, body io.Reader, withMD5 bool) (received, error) {
	f, err := os.CreateTemp(s.dirs.tmp(), "recv-*")
	if err != nil {
		return received{}, fmt.Errorf("create temp file: %w", err)
	}
	rec := received{tmp: f.Name()}
	var w io.Writer = f
	var h hash.Hash
	if withMD5 {
		h = md5.New()
		w = io.MultiWriter(f, h)
	}
	bp := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(w, ctxReader{ctx, body}, *bp)
	copyBufs.Put(bp)
	if err == nil && s.cfg.FsyncJournal {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(rec.tmp)
		return received{}, fmt.Errorf("receive body: %w", err)
	}
	rec.size = n
	if h != nil {
		rec.md5 = hex.EncodeToString(h.Sum(nil))
	}
	return rec, nil
}

// install renames a received temp file to objects/<uuid>/<name>.
func (s *Server) install(rec received, uuid, name string) error {
	if err := os.MkdirAll(s.dirs.objDir(uuid), 0o700); err != nil {
		_ = os.Remove(rec.tmp)
		return fmt.Errorf("create object dir: %w", err)
	}
	if err := os.Rename(rec.tmp, s.dirs.objFile(uuid, name)); err != nil {
		_ = os.Remove(rec.tmp)
		return fmt.Errorf("install object file: %w", err)
	}
	return nil
}

// ctxReader stops a body copy when the request is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// removeFiles deletes object files (outside any lock).
func (s *Server) removeFiles(paths []string) {
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn().Err(err).Str("file", filepath.Base(p)).Msg("emulator: remove object file")
		}
	}
}

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b[:])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// randHex returns n random bytes in hex.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// objectReader reads an object's files one after the other, seekably, so
// http.ServeContent can answer Range and HEAD requests from a multipart
// manifest without copying it.
type objectReader struct {
	dir   string
	files []objFile
	size  int64
	pos   int64
	cur   *os.File
	curIx int
}

func newObjectReader(dir string, o *object) *objectReader {
	return &objectReader{dir: dir, files: o.Files, size: o.Size, curIx: -1}
}

func (r *objectReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.size
	default:
		return 0, errors.New("objectReader: bad whence")
	}
	if off < 0 {
		return 0, errors.New("objectReader: negative position")
	}
	r.pos = off
	return off, nil
}

func (r *objectReader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	start := int64(0)
	for i, f := range r.files {
		if r.pos < start+f.Size {
			if r.curIx != i {
				r.closeCur()
				fh, err := os.Open(filepath.Join(r.dir, f.Name))
				if err != nil {
					return 0, fmt.Errorf("open object file: %w", err)
				}
				r.cur, r.curIx = fh, i
			}
			want := min(int64(len(p)), start+f.Size-r.pos)
			n, err := r.cur.ReadAt(p[:want], r.pos-start)
			r.pos += int64(n)
			if errors.Is(err, io.EOF) && n > 0 {
				err = nil
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the file is shorter than recorded
			}
			return n, err
		}
		start += f.Size
	}
	return 0, io.EOF
}

func (r *objectReader) closeCur() {
	if r.cur != nil {
		_ = r.cur.Close()
		r.cur, r.curIx = nil, -1
	}
}

func (r *objectReader) Close() error {
	r.closeCur()
	return nil
}
