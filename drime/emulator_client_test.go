package drime_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/drimefs/drimefs/drime"
	"github.com/drimefs/drimefs/drime/emulator"
)

// These tests run the client against the real emulator over HTTP: every
// method end to end, then one test per fault kind.

const emuToken = "17|emulator-test-token-secret"

type emu struct {
	t    *testing.T
	srv  *emulator.Server
	http *httptest.Server
	c    *drime.Client
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startEmu(t *testing.T) *emu {
	t.Helper()
	srv, err := emulator.New(emulator.Config{DataDir: t.TempDir(), Tokens: []string{emuToken}, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &emu{t: t, srv: srv, http: hs, logs: &lockedBuffer{}}
	e.c = e.client(emuToken)
	t.Cleanup(func() {
		if logs := e.logs.String(); strings.Contains(logs, emuToken) || strings.Contains(logs, "sig=") {
			t.Errorf("client logs leak the token or a presigned query:\n%s", logs)
		}
	})
	return e
}

func (e *emu) client(token string) *drime.Client {
	c, err := drime.New(drime.Config{
		BaseURL: e.http.URL + "/api/v1",
		Token:   token,
		Logger:  zerolog.New(e.logs).Level(zerolog.DebugLevel),
		Retry:   drime.RetryPolicy{MaxAttempts: 10, Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *emu) faults(spec string) {
	e.t.Helper()
	if err := e.srv.SetFaults(spec); err != nil {
		e.t.Fatal(err)
	}
}

// injected is how many faults of op:kind the emulator has injected.
func (e *emu) injected(key string) int64 { return e.srv.Stats().FaultsInjected[key] }

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// multipartUpload runs the whole S3 flow for data into parent.
func (e *emu) multipartUpload(ctx context.Context, parent int64, name string, data []byte) (*drime.Entry, error) {
	const partSize = 5 << 20
	up, err := e.c.CreateMultipart(ctx, drime.MultipartCreateRequest{Name: name, Size: int64(len(data)), ParentID: parent})
	if err != nil {
		return nil, err
	}
	n := (len(data) + partSize - 1) / partSize
	numbers := make([]int, n)
	for i := range numbers {
		numbers[i] = i + 1
	}
	urls, err := e.c.SignParts(ctx, *up, numbers)
	if err != nil {
		return nil, err
	}
	var parts []drime.CompletedPart
	for i := n; i >= 1; i-- { // out of order on purpose: complete sorts
		off := (i - 1) * partSize
		size := min(partSize, len(data)-off)
		etag, err := e.c.PutPart(ctx, urls[i], bytes.NewReader(data[off:off+size]), int64(size))
		if err != nil {
			return nil, err
		}
		parts = append(parts, drime.CompletedPart{Number: i, ETag: etag})
	}
	if err := e.c.CompleteMultipart(ctx, *up, parts); err != nil {
		return nil, err
	}
	return e.c.RegisterEntry(ctx, drime.RegisterRequest{Key: up.Key, Size: int64(len(data)), Name: name, ParentID: parent})
}

func (e *emu) download(ctx context.Context, ent *drime.Entry, off, length int64) ([]byte, error) {
	rc, err := e.c.Download(ctx, ent, off, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func (e *emu) list(parent int64) []drime.Entry {
	e.t.Helper()
	es, err := e.c.ListFolder(context.Background(), parent)
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

func named(es []drime.Entry, name string) []drime.Entry {
	var out []drime.Entry
	for _, x := range es {
		if x.Name == name {
			out = append(out, x)
		}
	}
	return out
}

func TestEmulatorEndToEnd(t *testing.T) {
	e := startEmu(t)
	ctx := context.Background()
	c := e.c

	u, err := c.WhoAmI(ctx)
	if err != nil || u.ID == 0 {
		t.Fatalf("WhoAmI = %+v, %v", u, err)
	}
	if _, err := c.Workspaces(ctx); err != nil {
		t.Errorf("Workspaces: %v", err)
	}
	usage, err := c.SpaceUsage(ctx)
	if err != nil || usage.Available <= 0 {
		t.Errorf("SpaceUsage = %+v, %v", usage, err)
	}

	docs, err := c.CreateFolder(ctx, 0, "docs")
	if err != nil || !docs.IsDir() || docs.ParentID != 0 {
		t.Fatalf("CreateFolder = %+v, %v", docs, err)
	}
	again, err := c.CreateFolder(ctx, 0, "docs")
	if err != nil || again.ID != docs.ID {
		t.Fatalf("CreateFolder again = %+v, %v; want reuse of %d", again, err, docs.ID)
	}
	sub, err := c.CreateFolder(ctx, docs.ID, "sub")
	if err != nil || sub.ParentID != docs.ID {
		t.Fatalf("nested CreateFolder = %+v, %v", sub, err)
	}

	small := randomBytes(100<<10+7, 1)
	f1, err := c.Upload(ctx, drime.UploadRequest{ParentID: docs.ID, Name: "small.bin", Body: bytes.NewReader(small), Size: int64(len(small))})
	if err != nil || f1.Size != int64(len(small)) || f1.ParentID != docs.ID {
		t.Fatalf("Upload = %+v, %v", f1, err)
	}
	if _, err := c.Upload(ctx, drime.UploadRequest{Name: "empty.txt", Body: bytes.NewReader(nil)}); err != nil {
		t.Errorf("empty upload: %v", err)
	}

	big := randomBytes(12<<20+12345, 2)
	f2, err := e.multipartUpload(ctx, docs.ID, "big.dat", big)
	if err != nil || f2.Size != int64(len(big)) || f2.ParentID != docs.ID || f2.Name != "big.dat" {
		t.Fatalf("multipart = %+v, %v", f2, err)
	}

	listed := e.list(docs.ID)
	if len(listed) != 3 || len(named(listed, "small.bin")) != 1 || len(named(listed, "big.dat")) != 1 {
		t.Fatalf("listing of docs = %+v", listed)
	}
	if root := e.list(0); len(named(root, "docs")) != 1 || len(named(root, "empty.txt")) != 1 || len(named(root, "sub")) != 0 {
		t.Errorf("root listing = %+v", root)
	}

	// Downloads: whole and ranges (across part boundaries), by sha256,
	// through the listed entry (url), the bare id and the hash.
	bigListed := named(listed, "big.dat")[0]
	for _, ent := range []*drime.Entry{&bigListed, {ID: f2.ID, Size: f2.Size}, {Hash: bigListed.Hash, Size: f2.Size}} {
		for _, r := range [][2]int64{{0, -1}, {0, 1}, {5<<20 - 10, 20}, {10<<20 + 1, 2 << 20}, {int64(len(big)) - 5, -1},
			{int64(len(big)) - 5, 100}, {int64(len(big)), -1}} {
			got, err := e.download(ctx, ent, r[0], r[1])
			want := big[r[0]:]
			if r[1] >= 0 && r[0]+r[1] < int64(len(big)) {
				want = big[r[0] : r[0]+r[1]]
			}
			if err != nil || sum(got) != sum(want) {
				t.Errorf("download %+v range %v: %d bytes, %v; want %d", ent.ID, r, len(got), err, len(want))
			}
		}
	}
	got, err := e.download(ctx, f1, 0, -1)
	if err != nil || sum(got) != sum(small) {
		t.Errorf("small download: %d bytes, %v", len(got), err)
	}
	// Redirects to storage (which refuses Authorization) work, so the
	// token was stripped.
	e.srv.SetQuirks(emulator.Quirks{DownloadRedirect: true})
	got, err = e.download(ctx, &bigListed, 3<<20, 4<<20)
	if err != nil || sum(got) != sum(big[3<<20:7<<20]) {
		t.Errorf("download via redirect: %d bytes, %v", len(got), err)
	}
	e.srv.SetQuirks(emulator.Quirks{})

	// Rename, move, delete.
	renamed, err := c.Rename(ctx, f1.ID, "renamed.bin")
	if err != nil || renamed.Name != "renamed.bin" || renamed.ID != f1.ID {
		t.Errorf("Rename = %+v, %v", renamed, err)
	}
	if err := c.Move(ctx, []int64{f1.ID, f2.ID}, sub.ID); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if in := e.list(sub.ID); len(in) != 2 || len(named(in, "renamed.bin")) != 1 {
		t.Errorf("after move, sub = %+v", in)
	}
	if err := c.Move(ctx, []int64{f1.ID}, 0); err != nil {
		t.Fatalf("Move to root: %v", err)
	}
	if len(named(e.list(0), "renamed.bin")) != 1 {
		t.Error("move to root not listed")
	}
	if err := c.Delete(ctx, []int64{f1.ID}, false); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if err := c.Delete(ctx, []int64{f1.ID, f2.ID}, true); err != nil {
		t.Errorf("Delete again (one already gone): %v", err)
	}
	if len(named(e.list(0), "renamed.bin")) != 0 || len(e.list(sub.ID)) != 0 {
		t.Error("deleted entries still listed")
	}

	// Uploaded parts, then abort.
	up, err := c.CreateMultipart(ctx, drime.MultipartCreateRequest{Name: "x.bin", Size: 6 << 20})
	if err != nil {
		t.Fatal(err)
	}
	urls, err := c.SignParts(ctx, *up, []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	part := randomBytes(5<<20, 3)
	etag, err := c.PutPart(ctx, urls[1], bytes.NewReader(part), int64(len(part)))
	if err != nil {
		t.Fatal(err)
	}
	parts, err := c.UploadedParts(ctx, *up)
	if err != nil || len(parts) != 1 || parts[0].Number != 1 || parts[0].ETag != etag || parts[0].Size != 5<<20 {
		t.Errorf("UploadedParts = %+v, %v (etag %s)", parts, err, etag)
	}
	if err := c.AbortMultipart(ctx, *up); err != nil {
		t.Errorf("Abort: %v", err)
	}
	if err := c.AbortMultipart(ctx, *up); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if _, err := c.UploadedParts(ctx, *up); !errors.Is(err, drime.ErrNotFound) {
		t.Errorf("UploadedParts after abort: %v, want ErrNotFound", err)
	}

	// A bad token is ErrUnauthorized everywhere, and never in the error.
	bad := e.client("1|wrong-token")
	for name, call := range map[string]func() error{
		"whoami": func() error { _, err := bad.WhoAmI(ctx); return err },
		"list":   func() error { _, err := bad.ListFolder(ctx, 0); return err },
		"upload": func() error {
			_, err := bad.Upload(ctx, drime.UploadRequest{Name: "a", Body: strings.NewReader("a"), Size: 1})
			return err
		},
	} {
		err := call()
		if !errors.Is(err, drime.ErrUnauthorized) || strings.Contains(err.Error(), "wrong-token") {
			t.Errorf("%s with a bad token: %v", name, err)
		}
	}
	e.srv.SetQuirks(emulator.Quirks{LoggedUserNull: true})
	if _, err := bad.WhoAmI(ctx); !errors.Is(err, drime.ErrUnauthorized) {
		t.Errorf("WhoAmI with {user:null}: %v", err)
	}
	e.srv.SetQuirks(emulator.Quirks{})
}

// Lazy last_page and more than one page of entries.
func TestEmulatorPagination(t *testing.T) {
	e := startEmu(t)
	ctx := context.Background()
	dir, err := e.c.CreateFolder(ctx, 0, "many")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 450 {
		if _, err := e.srv.InsertEntry(ctx, 0, dir.ID, fmt.Sprintf("f%03d", i), "file", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.SetQuirks(emulator.Quirks{LazyLastPage: true})
	if got := e.list(dir.ID); len(got) != 450 || got[0].Name != "f000" || got[449].Name != "f449" {
		t.Errorf("listed %d entries", len(got))
	}
}

func fileEntry(t *testing.T, e *emu, name string, data []byte) *drime.Entry {
	t.Helper()
	f, err := e.c.Upload(context.Background(), drime.UploadRequest{Name: name, Body: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	return f
}
