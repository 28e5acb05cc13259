package emulator

import "testing"

func TestHash(t *testing.T) {
	for _, c := range []struct {
		id   int64
		hash string
	}{
		{3260, "MzI2MHxwYWRkaQ"},
		{34430, "MzQ0MzB8cGFkZA"},
		{111344, "MTExMzQ0fHBhZA"},
		{485529677, "NDg1NTI5Njc3fA"},
		{1, "MXxwYWRkaW5ncA"},
		{1234567890, "MTIzNDU2Nzg5MHw"},
		{0, "0"},
	} {
		if got := hashOf(c.id); got != c.hash {
			t.Errorf("hashOf(%d) = %s, want %s", c.id, got, c.hash)
		}
		if c.id == 0 {
			continue
		}
		for _, h := range []string{c.hash, c.hash + "=", c.hash + "==", "NDg1NTI5Njc3fA=="} {
			if id, ok := decodeHash(h); !ok || (h != "NDg1NTI5Njc3fA==" && id != c.id) {
				t.Errorf("decodeHash(%q) = %d, %v", h, id, ok)
			}
		}
	}
	// The docs' hand-written unpadded example still decodes by the "<digits>|" rule.
	if id, ok := decodeHash("MTIzNDU2fA"); !ok || id != 123456 {
		t.Errorf("decodeHash(MTIzNDU2fA) = %d, %v", id, ok)
	}
	for _, bad := range []string{"", "!!", "aGVsbG8", "fDEyMw"} {
		if id, ok := decodeHash(bad); ok {
			t.Errorf("decodeHash(%q) accepted as %d", bad, id)
		}
	}
	for _, c := range []struct {
		ref string
		id  int64
		ok  bool
	}{{"480000001", 480000001, true}, {"0", 0, true}, {hashOf(480000001), 480000001, true}, {"x", 0, false}, {"-1", 0, false}} {
		if id, ok := parseRef(c.ref); id != c.id || ok != c.ok {
			t.Errorf("parseRef(%q) = %d, %v", c.ref, id, ok)
		}
	}
}
