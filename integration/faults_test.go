package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// faultWorkload is what the fault tests do through the mount: copy a tree
// with small and multipart files, overwrite, append, rename and delete
// some, make and move folders. It returns the expected final tree.
func faultWorkload(t *testing.T, m *mnt, files int) map[string]fileInfo {
	t.Helper()
	src := sourceTreeMP(t, files, 6)
	sh(t, m.dir, fmt.Sprintf("cp -r %q tree", src))
	sh(t, m.dir, "echo appended >> 'tree/d0/sub0/file 0 #0.dat'")
	sh(t, m.dir, "head -c 6000000 /dev/zero > 'tree/d1/sub1/file 1 #1.dat'") // overwrite small → multipart
	sh(t, m.dir, "mv tree/d2 tree/d2-renamed && mv 'tree/d3/sub0/file 3 #3.dat' tree/moved.dat")
	sh(t, m.dir, "rm -r tree/d4 && mkdir -p tree/new/a/b && echo x > tree/new/a/b/x")
	return localTree(t, m.dir)
}

// checkNoDuplicates fails if the emulator's listing has two entries of one
// name in a folder (remoteTree reports them) and compares with want.
func checkFaultResult(t *testing.T, spec string, e *emu, want map[string]fileInfo) {
	t.Helper()
	sameTree(t, "emulator with faults "+spec, want, remoteTree(t, e))
}

func TestWorkloadsUnderFaults(t *testing.T) {
	specs := []string{
		"put-part:500:0.2",
		"sign:429:0.2",
		"put-part:drop:0.1",
		"complete:502:0.2",
		"entries:lost:0.1",
		"upload:lost:0.1",
		"any:latency=30ms:1",
		"folders:lost:0.2,move:lost:0.2,delete:503:0.3,list:520:0.2",
	}
	for _, spec := range specs {
		t.Run(strings.ReplaceAll(spec, "/", "_"), func(t *testing.T) {
			e := startEmu(t, "")
			m := mount(t, e)
			e.setFaults(spec)
			want := faultWorkload(t, m, 60)
			m.sync()
			// Faults stay on while the result is read: the check tolerates
			// them through the client's own retries; lost answers must
			// not have made duplicates.
			e.setFaults("")
			checkFaultResult(t, spec, e, want)
			if st := e.stats(); len(st.FaultsInjected) == 0 {
				t.Errorf("no fault was injected for %s", spec)
			}
		})
	}
}

// TestFaultsSoak runs a bigger workload with every fault at once.
func TestFaultsSoak(t *testing.T) {
	if os.Getenv("DRIMEFS_SOAK") == "" {
		t.Skip("soak test: run with DRIMEFS_SOAK=1 (make soak)")
	}
	e := startEmu(t, "")
	m := mount(t, e)
	e.setFaults("put-part:500:0.2,sign:429:0.2,put-part:drop:0.1,complete:502:0.2,entries:lost:0.1,upload:lost:0.1,folders:lost:0.1,any:latency=30ms:1")
	want := faultWorkload(t, m, 600)
	m.sync()
	e.setFaults("")
	checkFaultResult(t, "all", e, want)
}

func TestDownloadFaults(t *testing.T) {
	e := startEmu(t, "")
	s := newSeeder(t, e)
	s.file("big.bin", randomBytes(3, 9<<20))
	s.file("small.txt", []byte("small file"))
	m := mount(t, e)
	// Truncated bodies and wrong lengths half of the time: reads retry
	// and return the right bytes.
	e.setFaults("download:truncate:0.5")
	sameTree(t, "reads with truncated downloads", s.want, localTree(t, m.dir))
	// Always broken: a clear EIO, nothing wrong cached.
	m.stop()
	m2 := mount(t, e)
	e.setFaults("download:truncate:1")
	if _, err := os.ReadFile(m2.path("big.bin")); err == nil {
		t.Fatal("read succeeded although every download was cut short")
	}
	e.setFaults("download:html:1")
	if _, err := os.ReadFile(m2.path("small.txt")); err == nil {
		t.Fatal("read succeeded although downloads answered HTML")
	}
	e.setFaults("")
	sameTree(t, "reads after the faults stopped", s.want, localTree(t, m2.dir))
}

func TestHTMLAnswersAndFailingListings(t *testing.T) {
	e := startEmu(t, "")
	newSeeder(t, e).file("dir/sub/inside.txt", []byte("inside"))
	m := mount(t, e)
	if _, err := os.ReadDir(m.dir); err != nil { // the root is listed while Drime is fine
		t.Fatal(err)
	}
	// Reading the root lists "dir" ahead (but not "dir/sub").
	waitFor(t, 10*time.Second, "dir to be listed ahead", func() bool {
		_, err := os.Stat(m.path("dir/sub"))
		return err == nil
	})
	e.setFaults("list:html:1")
	if _, err := os.ReadDir(m.path("dir/sub")); err == nil {
		t.Fatal("listing a never-listed folder succeeded while Drime answered HTML")
	}
	if !strings.Contains(m.logText(), "HTML") {
		t.Errorf("the log does not say Drime answered HTML")
	}
	// Writes keep working, and reach Drime when it behaves again.
	if err := os.WriteFile(m.path("written.txt"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.setFaults("upload:520:0.5,list:html:0.3")
	if err := os.WriteFile(m.path("more.txt"), []byte("more"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.sync()
	e.setFaults("")
	want := map[string]fileInfo{}
	for p, f := range localTree(t, m.dir) {
		want[p] = f
	}
	sameTree(t, "emulator", want, remoteTree(t, e))
}

// errorsInLog counts log lines at error level (for checks that a fault was
// reported, not swallowed).
func errorsInLog(m *mnt) int { return strings.Count(m.logText(), `"level":"error"`) }

var _ = filepath.Join
var _ = time.Second
