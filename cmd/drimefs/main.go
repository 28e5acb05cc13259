// Command drimefs mounts a Drime Cloud drive as a local folder with FUSE.
//
//	drimefs mount [flags] MOUNTPOINT
//	drimefs emulator --listen ADDR --data DIR [--token T] [--faults SPEC]
//	drimefs status MOUNTPOINT [--json]
//	drimefs sync MOUNTPOINT [--timeout D] [--retry-failed]
//	drimefs version
//	mount.fuse.drimefs SOURCE MOUNTPOINT -o OPTIONS   (mount(8) helper)
//
// This package only wires things together: flags, logger, signals, the
// control socket that status and sync talk to.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name, args, summary string
	run                 func(args []string) error
}

func commands() []command {
	return []command{
		{"mount", "[flags] MOUNTPOINT", "mount a Drime drive (foreground; ready when the mount appears)", runMount},
		{"emulator", "--listen ADDR --data DIR [--token T] [--faults SPEC]", "serve a local Drime-compatible API for tests and demos", runEmulator},
		{"status", "MOUNTPOINT [--json] [--once|--watch]", "show what is still uploading, and what failed (live on a terminal)", runStatus},
		{"sync", "MOUNTPOINT [--timeout D] [--retry-failed]", "wait until everything written so far is in Drime", runSync},
		{"version", "", "print the version", runVersion},
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "drimefs mounts a Drime Cloud drive as a local folder.\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  drimefs %-8s %s\n      %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun `drimefs COMMAND --help` for the flags of a command.\n")
	fmt.Fprintf(os.Stderr, "\nAs a mount(8) helper (installed as /sbin/mount.fuse.drimefs):\n"+
		"  mount -t fuse.drimefs drime MOUNTPOINT -o token_file=FILE[,OPTION=VALUE...]\n"+
		"      options are the mount flags with _ for - (cache_dir=, workspace=, ro, allow_other, ...)\n")
}

// usageError makes main print the command's usage and exit with 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	if isHelperCall(os.Args[0], os.Args[1:]) {
		exit("mount", runHelper(os.Args[1:]))
		return
	}
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	for _, c := range commands() {
		if c.name == os.Args[1] {
			exit(c.name, c.run(os.Args[2:]))
			return
		}
	}
	fmt.Fprintf(os.Stderr, "drimefs: unknown command %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
}

// exit ends the program after command name returned err: 0 on success,
// 2 on usage errors, 1 (with the message) otherwise.
func exit(name string, err error) {
	if err == nil {
		return
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "drimefs %s: %s\nRun `drimefs %s --help` for usage.\n", name, ue.msg, name)
		os.Exit(2)
	}
	var ee exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	fmt.Fprintf(os.Stderr, "drimefs %s: %v\n", name, err)
	os.Exit(1)
}

// exitError ends the program with a code after the command printed its own
// message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func runVersion(args []string) error {
	if _, err := parse(newFlagSet("version", "", "Print the version of drimefs."), args); err != nil {
		return err
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev-" + s.Value[:12]
			}
		}
	}
	fmt.Printf("drimefs %s\n", v)
	return nil
}
