package cache

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, Logger: zerolog.Nop(), OverlayTTL: time.Minute})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func TestCreateLookupRenameRemove(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	now := time.Now()
	d, err := s.Create(RootID, "docs", true, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Create(d.ID, "a.txt", false, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Dirty || f.Gen != 1 {
		t.Fatalf("new file should be dirty gen 1: %+v", f)
	}
	if _, err := s.Create(d.ID, "a.txt", false, 0, now); !errors.Is(err, ErrExist) {
		t.Fatalf("duplicate create: %v", err)
	}
	got, err := s.Lookup(d.ID, "a.txt")
	if err != nil || got.ID != f.ID {
		t.Fatalf("lookup: %v %+v", err, got)
	}
	if p, _ := s.Path(f.ID); p != "/docs/a.txt" {
		t.Fatalf("path %q", p)
	}
	if _, err := s.Remove(d.ID); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("remove non-empty folder: %v", err)
	}
	if _, err := s.Rename(d.ID, d.ID, "self", false, false, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("folder into itself: %v", err)
	}
	if _, err := s.Rename(f.ID, RootID, "b.txt", false, false, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(d.ID, "a.txt"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old name still there: %v", err)
	}
	kids, _ := s.Children(RootID)
	if len(kids) != 2 || kids[0].Name != "b.txt" || kids[1].Name != "docs" {
		t.Fatalf("root children %+v", kids)
	}
	if _, err := s.Remove(d.ID); err != nil {
		t.Fatalf("remove empty folder: %v", err)
	}
}

func TestRenameOverPendingCarriesReplacedEntry(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	now := time.Now()
	old, _ := s.Create(RootID, "doc", false, 0, now)
	// Pretend "doc" is in Drime as entry 77 and clean.
	if _, err := s.Update(old.ID, func(n *Node) error { n.RemoteID, n.Dirty = 77, false; return nil }); err != nil {
		t.Fatal(err)
	}
	tmp, _ := s.Create(RootID, "doc.tmp", false, 0, now)
	replaced, err := s.Rename(tmp.ID, RootID, "doc", false, false, now)
	if err != nil || replaced == nil || replaced.ID != old.ID {
		t.Fatalf("rename over: %v %+v", err, replaced)
	}
	n, _ := s.Get(tmp.ID)
	if len(n.Replaces) != 1 || n.Replaces[0] != 77 {
		t.Fatalf("pending file should delete 77 after its upload: %+v", n)
	}
	if ds, _ := s.Deletions(); len(ds) != 0 {
		t.Fatalf("entry 77 must not be deleted before the new content is up: %+v", ds)
	}
	if _, err := s.Rename(tmp.ID, RootID, "x", true, false, now); err != nil {
		t.Fatal(err)
	}
	other, _ := s.Create(RootID, "y", false, 0, now)
	if _, err := s.Rename(other.ID, RootID, "x", true, false, now); !errors.Is(err, ErrExist) {
		t.Fatalf("noreplace: %v", err)
	}
}

func TestCommitFinishAndStaleUpload(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	var fired []Job
	s.SetJobHook(func(j Job) { fired = append(fired, j) })
	f, _ := s.Create(RootID, "f", false, 0, time.Now())
	j1, err := s.Commit(f.ID, 10, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(fired) != 1 || fired[0].Gen != j1.Gen {
		t.Fatalf("hook: %+v", fired)
	}
	j2, _ := s.Commit(f.ID, 20, time.Now())
	if j2.Gen == j1.Gen || j2.FirstSeq != j1.FirstSeq || j2.Seq <= j1.Seq {
		t.Fatalf("second commit: %+v after %+v", j2, j1)
	}
	// The upload of generation 1 finishes late: stale, its entry deleted.
	if _, stale, err := s.FinishUpload(f.ID, j1.Gen, RemoteEntry{ID: 500}, RootID, "f"); err != nil || !stale {
		t.Fatalf("stale finish: %v %v", stale, err)
	}
	n, _, _ := s.FinishUpload(f.ID, j2.Gen, RemoteEntry{ID: 501}, RootID, "f")
	if n.Dirty || n.RemoteID != 501 {
		t.Fatalf("finished node %+v", n)
	}
	if _, ok, _ := s.Job(f.ID); ok {
		t.Fatal("job should be gone")
	}
	ds, _ := s.Deletions()
	if len(ds) != 1 || ds[0].RemoteID != 500 {
		t.Fatalf("deletions %+v", ds)
	}
	if !s.IsDeleted(500) {
		t.Fatal("500 should be tombstoned")
	}
	if !s.Files.Complete(f.ID, 501, 20) {
		t.Fatal("spool should be clean cache now")
	}
}

func TestRecoverQueuesUnclosedWrites(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	f, _ := s.Create(RootID, "f", false, 0, time.Now())
	if err := os.WriteFile(s.Files.Path(f.ID), []byte("written but never closed"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, _ := s.Create(RootID, "d", true, 0, time.Now())
	s.Close()

	s = openTest(t, dir)
	defer s.Close()
	j, ok, err := s.Job(f.ID)
	if err != nil || !ok || j.Size != int64(len("written but never closed")) {
		t.Fatalf("recovered job %+v %v %v", j, ok, err)
	}
	if _, ok, _ := s.Job(d.ID); !ok {
		t.Fatal("folder job lost")
	}
	if s.LastSeq() < j.Seq {
		t.Fatalf("last seq %d < %d", s.LastSeq(), j.Seq)
	}
}

func TestMultipartProgress(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	f, _ := s.Create(RootID, "big", false, 0, time.Now())
	mp := Multipart{Gen: 1, Key: "uploads/u/u", UploadID: "up1", PartSize: 5 << 20, Size: 12 << 20}
	if err := s.StartMultipart(f.ID, mp); err != nil {
		t.Fatal(err)
	}
	for n, e := range map[int]string{1: `"a"`, 3: `"c"`} {
		if err := s.SavePart(f.ID, "up1", n, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SavePart(f.ID, "other", 2, `"b"`); !errors.Is(err, ErrNotFound) {
		t.Fatalf("part of a replaced upload: %v", err)
	}
	got, ok, _ := s.Multipart(f.ID)
	if !ok || len(got.Parts) != 2 || got.Parts[3] != `"c"` {
		t.Fatalf("multipart %+v", got)
	}
	if _, err := s.Remove(f.ID); err != nil {
		t.Fatal(err)
	}
	as, _ := s.Aborts()
	if len(as) != 1 || as[0].UploadID != "up1" {
		t.Fatalf("abort not queued: %+v", as)
	}
}

func TestRenameOfCleanEntryQueuesPlaceJob(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	now := time.Now()
	f, _ := s.Create(RootID, "tmp.part", false, 0, now)
	j, _ := s.Commit(f.ID, 3, now)
	// The upload registers "tmp.part" while the file is renamed: the node
	// ends clean but misplaced, with a place job.
	if _, err := s.Rename(f.ID, RootID, "final", false, false, now); err != nil {
		t.Fatal(err)
	}
	n, stale, err := s.FinishUpload(f.ID, j.Gen, RemoteEntry{ID: 900}, RootID, "tmp.part")
	if err != nil || stale {
		t.Fatalf("finish: %v %v", stale, err)
	}
	if !n.Misplaced() {
		t.Fatalf("node should be misplaced: %+v", n)
	}
	pj, ok, _ := s.Job(f.ID)
	if !ok || !pj.Place {
		t.Fatalf("place job missing: %+v %v", pj, ok)
	}
	// A listing that still shows the old name does not rename it back.
	if _, err := s.Merge(RootID, []RemoteEntry{{ID: 900, Name: "tmp.part", Size: 3}}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(f.ID); got.Name != "final" {
		t.Fatalf("merge renamed it back to %q", got.Name)
	}
	if _, err := s.FinishPlace(f.ID, RootID, "final"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Job(f.ID); ok {
		t.Fatal("place job should be done")
	}
	// A clean rename not applied in Drime by the caller gets a place job too.
	if _, err := s.Rename(f.ID, RootID, "again", false, false, now); err != nil {
		t.Fatal(err)
	}
	if pj, ok, _ := s.Job(f.ID); !ok || !pj.Place {
		t.Fatalf("rename of a clean entry: job %+v %v", pj, ok)
	}
}

func TestNodeCodecRoundTrip(t *testing.T) {
	now := time.Now().UTC()
	n := Node{ID: 7, Parent: 3, Name: "ünï code.txt", Dir: false, Dirty: true, Size: 1 << 40,
		Mtime: now, Ctime: now.Add(-time.Hour), Mode: 0o10000, RemoteID: 480000001, RemoteHash: "NDgwMDAwMDAxfA",
		RemoteURL: "api/v1/file-entries/480000001", RemoteParent: 3, RemoteName: "old.txt",
		Listed: now, Gen: 9, UploadedGen: 8, Replaces: []int64{1, -2, 3}, LocalChange: now}
	var got Node
	if err := decodeNode(encodeNode(&n), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Mtime.Equal(n.Mtime) || !got.Ctime.Equal(n.Ctime) || !got.Listed.Equal(n.Listed) {
		t.Fatalf("times: %+v", got)
	}
	got.Mtime, got.Ctime, got.Listed, got.LocalChange = n.Mtime, n.Ctime, n.Listed, n.LocalChange
	if fmt.Sprint(got) != fmt.Sprint(n) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, n)
	}
	var zero Node
	if err := decodeNode(encodeNode(&Node{ID: 1}), &zero); err != nil || !zero.Mtime.IsZero() || zero.Replaces != nil {
		t.Fatalf("zero node: %+v %v", zero, err)
	}
	if err := decodeNode([]byte{1, 5}, &zero); err == nil {
		t.Fatal("truncated record decoded")
	}
}
