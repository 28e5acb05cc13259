package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The loopback reference is go-fuse's own loopback file system over a local
// directory, served by this test binary re-executed as a helper process (so
// it has its own runtime, like a real FUSE server). The helper speaks a line
// protocol: it prints "ready passthrough=BOOL" once mounted, answers "stats"
// on stdin with "reads=N writes=M lookups=L" (READ and WRITE requests that
// reached the server: zero when the kernel used passthrough; LOOKUPs, to
// compare with drimefs's), and unmounts and exits when stdin closes or on
// SIGTERM.

const (
	helperEnv      = "DRIMEFS_BENCH_HELPER"
	helperLoopback = "loopback"
	helperDirEnv   = "DRIMEFS_BENCH_LOOPBACK_DIR"
	helperMntEnv   = "DRIMEFS_BENCH_LOOPBACK_MNT"
)

// Requests that reached the helper's file handles, and its lookups.
var helperReads, helperWrites, helperLookups atomic.Int64

// countNode is a LoopbackNode whose open files count the reads and writes
// the kernel sends to the server instead of passing them through.
type countNode struct{ *gofs.LoopbackNode }

var (
	_ = (gofs.NodeWrapChilder)((*countNode)(nil))
	_ = (gofs.NodeOpener)((*countNode)(nil))
	_ = (gofs.NodeCreater)((*countNode)(nil))
	_ = (gofs.NodeLookuper)((*countNode)(nil))
)

func (n *countNode) WrapChild(ctx context.Context, ops gofs.InodeEmbedder) gofs.InodeEmbedder {
	return &countNode{ops.(*gofs.LoopbackNode)}
}

func (n *countNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	helperLookups.Add(1)
	return n.LoopbackNode.Lookup(ctx, name, out)
}

func (n *countNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	return wrapCounting(fh), fl, errno
}

func (n *countNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	in, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	return in, wrapCounting(fh), fl, errno
}

// countFile is a LoopbackFile (passthrough fd included) that counts the
// reads and writes it serves.
type countFile struct{ *gofs.LoopbackFile }

func wrapCounting(fh gofs.FileHandle) gofs.FileHandle {
	if lf, ok := fh.(*gofs.LoopbackFile); ok {
		return &countFile{lf}
	}
	return fh
}

func (f *countFile) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	helperReads.Add(1)
	return f.LoopbackFile.Read(ctx, buf, off)
}

func (f *countFile) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	helperWrites.Add(1)
	return f.LoopbackFile.Write(ctx, data, off)
}

// serveLoopbackHelper is the helper process's main function.
func serveLoopbackHelper() int {
	dir, mnt := os.Getenv(helperDirEnv), os.Getenv(helperMntEnv)
	root, err := gofs.NewLoopbackRoot(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loopback root %s: %v\n", dir, err)
		return 1
	}
	sec := time.Second
	srv, err := gofs.Mount(mnt, &countNode{root.(*gofs.LoopbackNode)}, &gofs.Options{
		AttrTimeout: &sec, EntryTimeout: &sec, NullPermissions: true,
		MountOptions: fuse.MountOptions{FsName: dir, Name: "loopback", DirectMount: os.Geteuid() == 0},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "mount loopback at %s: %v\n", mnt, err)
		return 1
	}
	pt := srv.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH != 0
	fmt.Printf("ready passthrough=%v\n", pt)
	quit := make(chan struct{})
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		<-sigs
		close(quit)
	}()
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if sc.Text() == "stats" {
				fmt.Printf("reads=%d writes=%d lookups=%d\n", helperReads.Load(), helperWrites.Load(), helperLookups.Load())
			}
		}
		close(quit)
	}()
	<-quit
	if err := srv.Unmount(); err != nil {
		_ = syscall.Unmount(mnt, syscall.MNT_DETACH)
	}
	return 0
}

// loopback is a running helper process serving a loopback mount.
type loopback struct {
	dir, mnt    string
	cmd         *exec.Cmd
	in          io.WriteCloser
	lines       chan string
	done        chan struct{}
	passthrough bool
}

// startLoopback mounts go-fuse's loopback of dir at mnt (an empty folder).
func startLoopback(ctx context.Context, dir, mnt string) (*loopback, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("loopback helper: %w", err)
	}
	l := &loopback{dir: dir, mnt: mnt, lines: make(chan string, 16), done: make(chan struct{})}
	l.cmd = exec.Command(self)
	l.cmd.Env = append(os.Environ(), helperEnv+"="+helperLoopback, helperDirEnv+"="+dir, helperMntEnv+"="+mnt)
	l.cmd.Stderr = os.Stderr
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if l.in, err = l.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("loopback helper stdin: %w", err)
	}
	out, err := l.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("loopback helper stdout: %w", err)
	}
	if err := l.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start loopback helper: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l.lines <- sc.Text()
		}
		close(l.lines)
	}()
	go func() { _ = l.cmd.Wait(); close(l.done) }()
	line, err := l.next(ctx, 20*time.Second)
	if err != nil || !strings.HasPrefix(line, "ready ") {
		l.stop()
		return nil, fmt.Errorf("loopback helper did not mount %s (%q): %w", mnt, line, err)
	}
	l.passthrough = strings.Contains(line, "passthrough=true")
	return l, nil
}

// next waits for the helper's next output line.
func (l *loopback) next(ctx context.Context, within time.Duration) (string, error) {
	select {
	case line, ok := <-l.lines:
		if !ok {
			return "", fmt.Errorf("loopback helper exited")
		}
		return line, nil
	case <-time.After(within):
		return "", fmt.Errorf("loopback helper silent for %v", within)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// counts returns the READ and WRITE requests the helper served so far.
func (l *loopback) counts(ctx context.Context) (reads, writes int64, err error) {
	reads, writes, _, err = l.stats(ctx)
	return reads, writes, err
}

// stats returns the READ, WRITE and LOOKUP requests served so far.
func (l *loopback) stats(ctx context.Context) (reads, writes, lookups int64, err error) {
	if _, err := io.WriteString(l.in, "stats\n"); err != nil {
		return 0, 0, 0, fmt.Errorf("ask loopback helper: %w", err)
	}
	line, err := l.next(ctx, 10*time.Second)
	if err != nil {
		return 0, 0, 0, err
	}
	if _, err := fmt.Sscanf(line, "reads=%d writes=%d lookups=%d", &reads, &writes, &lookups); err != nil {
		return 0, 0, 0, fmt.Errorf("loopback helper said %q: %w", line, err)
	}
	return reads, writes, lookups, nil
}

// stop unmounts and waits for the helper to exit (killing it if it hangs).
func (l *loopback) stop() {
	_ = l.in.Close()
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		_ = l.cmd.Process.Kill()
		<-l.done
	}
	forceUnmount(l.mnt)
}
