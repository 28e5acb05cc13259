package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// drimefs as a mount(8) helper, so that `mount -t fuse.drimefs SOURCE DIR
// -o OPTS` and /etc/fstab lines work:
//
//   - mount(8) runs /sbin/mount.fuse.drimefs SOURCE DIR [-sfnv] [-o OPTS]
//     when that exists (`make install` links it to drimefs);
//   - else /sbin/mount.fuse3, which runs `drimefs SOURCE DIR -o OPTS`
//     (drimefs from PATH).
//
// Both end here: options become `drimefs mount` flags and the mount runs
// with --daemon, so mount(8) returns once the mount is ready, or fails
// with the reason. SOURCE is a free label, except that SOURCE of the form
// LABEL:N (e.g. drime:12) selects workspace N.

// helperOpt says how one -o option maps to a `drimefs mount` flag.
type helperOpt struct {
	flag    string
	boolean bool // a switch: `opt` or `opt=true|false`
}

// helperOptions are the -o options drimefs understands (dashes may be
// written as underscores, e.g. token-file or token_file).
var helperOptions = map[string]helperOpt{
	"token_file":       {flag: "token-file"},
	"api_url":          {flag: "api-url"},
	"emulator":         {flag: "emulator"},
	"workspace":        {flag: "workspace"},
	"cache_dir":        {flag: "cache-dir"},
	"cache_max_size":   {flag: "cache-max-size"},
	"transfers":        {flag: "transfers"},
	"part_concurrency": {flag: "part-concurrency"},
	"part_size":        {flag: "part-size"},
	"dir_cache_ttl":    {flag: "dir-cache-ttl"},
	"fsync":            {flag: "fsync"},
	"uid":              {flag: "uid"},
	"gid":              {flag: "gid"},
	"umask":            {flag: "umask"},
	"log_level":        {flag: "log-level"},
	"log_format":       {flag: "log-format"},
	"log_file":         {flag: "log-file"},
	"metrics_addr":     {flag: "metrics-addr"},
	"delete_forever":   {flag: "delete-forever", boolean: true},
	"read_only":        {flag: "read-only", boolean: true},
	"allow_other":      {flag: "allow-other", boolean: true},
	"passthrough":      {flag: "passthrough", boolean: true},
	"debug_fuse":       {flag: "debug-fuse", boolean: true},
}

// ignoredOptions are generic mount options that mean nothing to drimefs
// (or are handled by mount(8), systemd or mount.fuse3).
var ignoredOptions = map[string]bool{
	"defaults": true, "_netdev": true, "auto": true, "noauto": true, "nofail": true,
	"user": true, "users": true, "nouser": true, "owner": true, "group": true,
	"dev": true, "nodev": true, "suid": true, "nosuid": true, "exec": true, "noexec": true,
	"async": true, "atime": true, "noatime": true, "relatime": true, "norelatime": true,
	"strictatime": true, "nostrictatime": true, "diratime": true, "nodiratime": true,
	"lazytime": true, "nolazytime": true, "silent": true, "loud": true,
}

// helperRequest is a parsed mount helper command line.
type helperRequest struct {
	source, mountpoint string
	options            []string // every -o option, in order
	fake               bool     // -f: check everything, mount nothing
	sloppy             bool     // -s: unknown options are warnings
	verbose            bool     // -v: say what runs
}

// isHelperCall tells a mount helper call from a drimefs command: the
// program is called mount.* (mount.fuse.drimefs), or its first argument
// is no command and a mount point follows with -o options or as an
// absolute path (how mount.fuse3 calls it).
func isHelperCall(argv0 string, args []string) bool {
	if strings.HasPrefix(filepath.Base(argv0), "mount.") {
		return true
	}
	if len(args) < 2 || strings.HasPrefix(args[0], "-") || strings.HasPrefix(args[1], "-") {
		return false
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return false
		}
	}
	for _, a := range args[2:] {
		if a == "-o" || strings.HasPrefix(a, "-o") {
			return true
		}
	}
	return filepath.IsAbs(args[1])
}

// parseHelperArgs parses SOURCE MOUNTPOINT [-sfnvrw] [-o OPTS]... [-t TYPE].
func parseHelperArgs(args []string) (helperRequest, error) {
	var r helperRequest
	if len(args) < 2 || args[0] == "-h" || args[0] == "--help" {
		return r, usageError{"usage: mount.fuse.drimefs SOURCE MOUNTPOINT [-o OPTIONS]; " +
			"the options are the flags of `drimefs mount` with _ for - (token_file=FILE,cache_dir=DIR,ro,...)"}
	}
	r.source, r.mountpoint = args[0], args[1]
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "-t" || a == "-N":
			if i+1 == len(args) {
				return r, usageError{fmt.Sprintf("%s needs a value", a)}
			}
			i++
			if err := r.option(a, args[i]); err != nil {
				return r, err
			}
		case strings.HasPrefix(a, "-o"):
			r.options = append(r.options, splitOptions(a[2:])...)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, c := range a[1:] {
				switch c {
				case 'f':
					r.fake = true
				case 's':
					r.sloppy = true
				case 'v':
					r.verbose = true
				case 'n':
				case 'r':
					r.options = append(r.options, "ro")
				case 'w':
					r.options = append(r.options, "rw")
				default:
					return r, usageError{fmt.Sprintf("unknown mount helper flag -%c", c)}
				}
			}
		default:
			return r, usageError{fmt.Sprintf("unexpected argument %q (usage: SOURCE MOUNTPOINT -o OPTIONS)", a)}
		}
	}
	return r, nil
}

func (r *helperRequest) option(flag, v string) error {
	switch flag {
	case "-o":
		r.options = append(r.options, splitOptions(v)...)
	case "-t":
		if t := strings.TrimPrefix(v, "fuse."); t != "drimefs" && v != "fuse" {
			return usageError{fmt.Sprintf("file system type %q is not drimefs (use -t fuse.drimefs)", v)}
		}
	case "-N":
		return usageError{"mounting in another namespace (-N) is not supported"}
	}
	return nil
}

func splitOptions(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// mountArgs maps the request to `drimefs mount` arguments (always with
// --daemon). Unknown options are errors, or warnings with -s.
func (r helperRequest) mountArgs() (args, warnings []string, err error) {
	readOnly := false
	set := map[string]string{}
	for _, o := range r.options {
		key, val, hasVal := strings.Cut(o, "=")
		key = strings.ReplaceAll(key, "-", "_")
		switch {
		case key == "ro":
			readOnly = true
			continue
		case key == "rw":
			readOnly = false
			continue
		case ignoredOptions[key], strings.HasPrefix(key, "x_"), key == "comment":
			continue // x-systemd.*, x-gvfs-*, comment=…
		case key == "token":
			return nil, nil, usageError{"the token cannot be a mount option (it would show in ps and the mount table); put it in a file (chmod 600) and use token_file=FILE"}
		}
		opt, ok := helperOptions[key]
		switch {
		case !ok:
			msg := fmt.Sprintf("unknown mount option %q; drimefs knows %s and ignores generic ones (%s)",
				o, strings.Join(knownOptionNames(), ", "), "defaults, _netdev, noauto, nofail, user, x-systemd.*, …")
			if r.sloppy {
				warnings = append(warnings, msg)
				continue
			}
			return nil, nil, usageError{msg}
		case opt.boolean:
			b := true
			if hasVal {
				if b, err = strconv.ParseBool(val); err != nil {
					return nil, nil, usageError{fmt.Sprintf("mount option %s wants true or false, not %q", key, val)}
				}
			}
			if opt.flag == "read-only" {
				readOnly = b
				continue
			}
			set[opt.flag] = strconv.FormatBool(b)
		case !hasVal || val == "":
			return nil, nil, usageError{fmt.Sprintf("mount option %s needs a value (%s=…)", key, key)}
		default:
			set[opt.flag] = val
		}
	}
	if ws, ok := sourceWorkspace(r.source); ok {
		if v, given := set["workspace"]; given && v != ws {
			return nil, nil, usageError{fmt.Sprintf("source %q names workspace %s but the workspace option says %s", r.source, ws, v)}
		}
		set["workspace"] = ws
	}
	if readOnly {
		set["read-only"] = "true"
	}
	if _, given := set["fsname"]; !given && r.source != "" {
		set["fsname"] = r.source
	}
	flags := make([]string, 0, len(set))
	for f := range set {
		flags = append(flags, f)
	}
	sort.Strings(flags)
	for _, f := range flags {
		args = append(args, "--"+f+"="+set[f])
	}
	return append(args, "--daemon", r.mountpoint), warnings, nil
}

// sourceWorkspace finds the workspace in a SOURCE like drime:12.
func sourceWorkspace(source string) (string, bool) {
	i := strings.LastIndexByte(source, ':')
	if i < 0 {
		return "", false
	}
	if n, err := strconv.ParseInt(source[i+1:], 10, 64); err == nil && n >= 0 {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

func knownOptionNames() []string {
	names := []string{"ro"}
	for k := range helperOptions {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// runHelper mounts as mount(8)'s helper.
func runHelper(args []string) error {
	r, err := parseHelperArgs(args)
	if err != nil {
		return err
	}
	margs, warnings, err := r.mountArgs()
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "drimefs: ignoring: %s\n", w)
	}
	if r.verbose || r.fake {
		fmt.Fprintf(os.Stderr, "drimefs: running drimefs mount %s\n", strings.Join(margs, " "))
	}
	if r.fake {
		return nil
	}
	return runMount(margs)
}
