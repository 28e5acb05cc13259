package cache

import (
	"testing"
	"time"
)

func names(t *testing.T, s *Store, parent uint64) map[string]Node {
	t.Helper()
	kids, err := s.Children(parent)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Node{}
	for _, k := range kids {
		m[k.Name] = k
	}
	return m
}

func TestMergeAddsUpdatesAndRemoves(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	t0 := time.Now().Add(-time.Hour)
	listing := []RemoteEntry{
		{ID: 1, Name: "a", Size: 3, Updated: t0},
		{ID: 2, Name: "dir", Dir: true},
		{ID: 3, Name: "..", Size: 1},  // never a path component
		{ID: 4, Name: "x/y", Size: 1}, // neither
		{ID: 5, Name: "dup", Size: 1},
		{ID: 6, Name: "dup", Size: 2}, // newest same-name entry wins
	}
	res, err := s.Merge(RootID, listing, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m := names(t, s, RootID)
	if len(m) != 3 || m["a"].RemoteID != 1 || !m["dir"].Dir || m["dup"].RemoteID != 6 {
		t.Fatalf("after first merge: %+v", m)
	}
	if len(res.Names) != 0 {
		t.Fatalf("a first listing has nothing to notify, got %v", res.Names)
	}
	root, _ := s.Get(RootID)
	if root.Listed.IsZero() {
		t.Fatal("root not marked listed")
	}
	// Entry 1 replaced in Drime by entry 7 of the same name; dir deleted.
	res, err = s.Merge(RootID, []RemoteEntry{{ID: 7, Name: "a", Size: 9}, {ID: 6, Name: "dup", Size: 2}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m = names(t, s, RootID)
	if len(m) != 2 || m["a"].RemoteID != 7 || m["a"].Size != 9 {
		t.Fatalf("after second merge: %+v", m)
	}
	if len(res.Content) != 1 || len(res.Removed) != 1 || len(res.Names) != 2 {
		t.Fatalf("result %+v", res)
	}
}

func TestMergeKeepsLocalChanges(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	now := time.Now()
	if _, err := s.Merge(RootID, []RemoteEntry{{ID: 1, Name: "old"}, {ID: 2, Name: "gone"}}, now); err != nil {
		t.Fatal(err)
	}
	pending, _ := s.Create(RootID, "new", false, 0, now)
	gone, _ := s.Lookup(RootID, "gone")
	if _, err := s.Remove(gone.ID); err != nil {
		t.Fatal(err)
	}
	// A lagging listing still shows "gone" and does not show "new".
	if _, err := s.Merge(RootID, []RemoteEntry{{ID: 1, Name: "old"}, {ID: 2, Name: "gone"}}, now); err != nil {
		t.Fatal(err)
	}
	m := names(t, s, RootID)
	if _, ok := m["gone"]; ok {
		t.Fatal("a locally deleted entry came back")
	}
	if m["new"].ID != pending.ID {
		t.Fatal("a pending file was hidden")
	}
	// Our own upload of "new" shows up before the uploader recorded it:
	// no second node.
	if _, err := s.Merge(RootID, []RemoteEntry{{ID: 1, Name: "old"}, {ID: 9, Name: "new"}}, now); err != nil {
		t.Fatal(err)
	}
	if m := names(t, s, RootID); len(m) != 2 {
		t.Fatalf("duplicate node: %+v", m)
	}
}

func TestMergeVanishedFolderKeepsPendingContent(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	past := time.Now().Add(-time.Hour)
	if _, err := s.Merge(RootID, []RemoteEntry{{ID: 1, Name: "d", Dir: true}}, past); err != nil {
		t.Fatal(err)
	}
	d, _ := s.Lookup(RootID, "d")
	if _, err := s.Merge(d.ID, []RemoteEntry{{ID: 2, Name: "clean"}}, past); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Create(d.ID, "pending", false, 0, past)
	if _, err := s.Commit(p.ID, 1, past); err != nil {
		t.Fatal(err)
	}
	// Backdate the local change so the overlay does not protect it.
	if _, err := s.Update(p.ID, func(n *Node) error { n.LocalChange = past; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Merge(RootID, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	d2, err := s.Lookup(RootID, "d")
	if err != nil || d2.RemoteID != 0 {
		t.Fatalf("folder with pending content must stay, to be created again: %+v %v", d2, err)
	}
	if _, ok, _ := s.Job(d2.ID); !ok {
		t.Fatal("folder job missing")
	}
	m := names(t, s, d.ID)
	if _, ok := m["clean"]; ok || m["pending"].ID != p.ID {
		t.Fatalf("children %+v", m)
	}
}

func TestExtents(t *testing.T) {
	var x Extents
	x = x.Add(10, 20).Add(30, 40).Add(20, 30).Add(50, 60)
	if len(x) != 2 || x[0] != (Extent{10, 40}) || x.Total() != 40 {
		t.Fatalf("extents %v", x)
	}
	miss := x.Missing(0, 70)
	want := Extents{{0, 10}, {40, 50}, {60, 70}}
	if len(miss) != len(want) {
		t.Fatalf("missing %v", miss)
	}
	for i := range want {
		if miss[i] != want[i] {
			t.Fatalf("missing %v want %v", miss, want)
		}
	}
	if m := x.Missing(12, 38); len(m) != 0 {
		t.Fatalf("covered range reported missing: %v", m)
	}
}
