package integration

import (
	"os"
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixCases are go-fuse's POSIX checks that apply to a cloud drive. Left
// out: symlinks, hard links and their nlink counts, extended attributes and
// O_TMPFILE (Drime cannot store them); FcntlFlockLocksFile (locks are the
// kernel's, per process, not shared through Drime); FstatDeleted (its
// files are named "0", "1", … and Drime cannot hold a file named "0").
var posixCases = []string{
	"AppendWrite", "DirSeek", "DirectIO", "Fallocate", "FallocateKeepSize",
	"FcntlFlockSetLk", "FdLeak", "FileBasic", "FileLarge",
	"LseekHoleSeeksToEOF", "MkdirRmdir", "OpenAt",
	"ParallelFileOpen", "ReadDirBasic", "ReadDirConsistency", "RenameOpenDir",
	"RenameOverwriteDestExist", "RenameOverwriteDestNoExist", "TruncateFile",
	"TruncateNoFile",
}

func TestPosix(t *testing.T) {
	e := startEmu(t, "")
	m := mount(t, e)
	names := append([]string(nil), posixCases...)
	sort.Strings(names)
	for _, name := range names {
		fn := posixtest.All[name]
		if fn == nil {
			t.Fatalf("go-fuse has no posix test %q", name)
		}
		t.Run(name, func(t *testing.T) {
			dir := m.path("posix-" + name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			fn(t, dir)
		})
	}
	// Whatever the tests left behind reaches Drime intact.
	m.sync()
	sameTree(t, "emulator after the POSIX tests", localTree(t, m.dir), remoteTree(t, e))
}
