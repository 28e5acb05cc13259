package uploader

import "testing"

func TestPartSize(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name       string
		size, base int64
		want       int64
	}{
		{"small file keeps the base", 1, 5 * mib, 5 * mib},
		{"base below minimum is raised", 100 * mib, mib, 5 * mib},
		{"exactly 10000 parts", 10000 * 5 * mib, 5 * mib, 5 * mib},
		{"one byte more grows to the next MiB", 10000*5*mib + 1, 5 * mib, 6 * mib},
		{"1 TiB", 1 << 40, 5 * mib, 105 * mib},
		{"larger base kept", 1 << 30, 16 * mib, 16 * mib},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := PartSize(c.size, c.base)
			if got != c.want {
				t.Fatalf("PartSize(%d, %d) = %d, want %d", c.size, c.base, got, c.want)
			}
			if n := (c.size + got - 1) / got; n > MaxParts {
				t.Fatalf("%d parts exceed the maximum", n)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	const ps = 5242880
	parts := Plan(142557981, ps)
	if len(parts) != 28 {
		t.Fatalf("got %d parts, want 28", len(parts))
	}
	var total int64
	for i, p := range parts {
		if p.Number != i+1 || p.Offset != int64(i)*ps {
			t.Fatalf("part %d: number %d offset %d", i, p.Number, p.Offset)
		}
		if i < 27 && p.Size != ps {
			t.Fatalf("non-final part %d has size %d", p.Number, p.Size)
		}
		total += p.Size
	}
	if total != 142557981 {
		t.Fatalf("parts cover %d bytes", total)
	}
	if last := parts[27].Size; last != 142557981-27*ps {
		t.Fatalf("last part %d", last)
	}
	if got := Plan(0, ps); len(got) != 0 {
		t.Fatalf("empty file planned %d parts", len(got))
	}
	if got := Plan(ps, ps); len(got) != 1 || got[0].Size != ps {
		t.Fatalf("one exact part: %+v", got)
	}
}
