package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestHelperMapsMountOptions(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // drimefs mount arguments
	}{
		{"minimal", []string{"drime", "/mnt/d", "-o", "token_file=/etc/drimefs/token"},
			[]string{"--token-file=/etc/drimefs/token", "--daemon", "/mnt/d"}},
		{"every option",
			[]string{"drime", "/mnt/d", "-o", "token_file=/t,cache_dir=/var/cache/d,cache_max_size=20G,workspace=3," +
				"transfers=8,part_concurrency=2,part_size=16M,dir_cache_ttl=5m,fsync=remote,uid=1000,gid=1000,umask=077," +
				"api_url=http://127.0.0.1:1/api/v1,log_level=debug,log_format=json,log_file=/var/log/d.log," +
				"metrics_addr=127.0.0.1:9464,delete_forever,allow_other,passthrough=false,emulator=/srv/emu"},
			[]string{"--allow-other=true", "--api-url=http://127.0.0.1:1/api/v1", "--cache-dir=/var/cache/d",
				"--cache-max-size=20G", "--delete-forever=true", "--dir-cache-ttl=5m", "--emulator=/srv/emu",
				"--fsync=remote", "--gid=1000", "--log-file=/var/log/d.log", "--log-format=json", "--log-level=debug",
				"--metrics-addr=127.0.0.1:9464", "--part-concurrency=2", "--part-size=16M", "--passthrough=false",
				"--token-file=/t", "--transfers=8", "--uid=1000", "--umask=077", "--workspace=3", "--daemon", "/mnt/d"}},
		{"dashes work too", []string{"drime", "/m", "-o", "token-file=/t,read-only"},
			[]string{"--read-only=true", "--token-file=/t", "--daemon", "/m"}},
		{"generic options are ignored",
			[]string{"drime", "/m", "-o", "rw,defaults,_netdev,noauto,auto,user,users,nofail,nodev,nosuid,exec,noexec," +
				"suid,dev,relatime,noatime,x-systemd.automount,x-systemd.mount-timeout=30,comment=systemd.x,token_file=/t"},
			[]string{"--token-file=/t", "--daemon", "/m"}},
		{"ro", []string{"drime", "/m", "-o", "ro,token_file=/t"},
			[]string{"--read-only=true", "--token-file=/t", "--daemon", "/m"}},
		{"read_only", []string{"drime", "/m", "-o", "read_only"}, []string{"--read-only=true", "--daemon", "/m"}},
		{"rw after ro wins", []string{"drime", "/m", "-o", "ro", "-o", "rw"}, []string{"--daemon", "/m"}},
		{"-r flag", []string{"drime", "/m", "-r"}, []string{"--read-only=true", "--daemon", "/m"}},
		{"mount(8) flags", []string{"drime", "/m", "-n", "-v", "-o", "rw,emulator=/e"},
			[]string{"--emulator=/e", "--daemon", "/m"}},
		{"-t from mount.fuse", []string{"drime", "/m", "-o", "emulator=/e", "-t", "fuse.drimefs"},
			[]string{"--emulator=/e", "--daemon", "/m"}},
		{"joined -o", []string{"drime", "/m", "-oemulator=/e,ro"}, []string{"--emulator=/e", "--read-only=true", "--daemon", "/m"}},
		{"workspace from the source", []string{"drime:12", "/m"}, []string{"--workspace=12", "--daemon", "/m"}},
		{"source agrees with the option", []string{"drime:12", "/m", "-o", "workspace=12"},
			[]string{"--workspace=12", "--daemon", "/m"}},
		{"source is a free label", []string{"my drive", "/m"}, []string{"--daemon", "/m"}},
		{"last value wins", []string{"d", "/m", "-o", "transfers=2,transfers=6"}, []string{"--transfers=6", "--daemon", "/m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseHelperArgs(tt.args)
			if err != nil {
				t.Fatalf("parse %q: %v", tt.args, err)
			}
			got, warnings, err := r.mountArgs()
			if err != nil {
				t.Fatalf("mountArgs %q: %v", tt.args, err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %q", warnings)
			}
			// The source always becomes the name shown in /proc/mounts.
			want := withFsName(tt.want, "--fsname="+tt.args[0])
			if !reflect.DeepEqual(got, want) {
				t.Errorf("args for %q:\n got %q\nwant %q", tt.args, got, want)
			}
			// The mapped flags must all parse as `drimefs mount` flags.
			var m mountFlags
			pos, err := parse(mountFlagSet(&m), got)
			if err != nil || len(pos) != 1 {
				t.Errorf("drimefs mount %q does not parse: %v %q", got, err, pos)
			}
		})
	}
}

func TestHelperRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"unknown option", []string{"d", "/m", "-o", "token_file=/t,colour=blue"}, `unknown mount option "colour=blue"`},
		{"the token itself", []string{"d", "/m", "-o", "token=123|secret"}, "use token_file=FILE"},
		{"value missing", []string{"d", "/m", "-o", "cache_dir"}, "cache_dir needs a value"},
		{"empty value", []string{"d", "/m", "-o", "workspace="}, "workspace needs a value"},
		{"bad boolean", []string{"d", "/m", "-o", "allow_other=maybe"}, "wants true or false"},
		{"other fs type", []string{"d", "/m", "-t", "fuse.sshfs"}, `"fuse.sshfs" is not drimefs`},
		{"namespaces", []string{"d", "/m", "-N", "1234"}, "not supported"},
		{"stray argument", []string{"d", "/m", "extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"d", "/m", "-x"}, "unknown mount helper flag -x"},
		{"too few arguments", []string{"d"}, "usage"},
		{"-o without value", []string{"d", "/m", "-o"}, "-o needs a value"},
		{"source and option disagree", []string{"drime:3", "/m", "-o", "workspace=4"}, "names workspace 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseHelperArgs(tt.args)
			if err == nil {
				_, _, err = r.mountArgs()
			}
			if err == nil {
				t.Fatalf("%q accepted; want an error with %q", tt.args, tt.want)
			}
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("%q: %v is not a usage error (exit 2)", tt.args, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%q: error %q lacks %q", tt.args, err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error repeats the token: %v", err)
			}
		})
	}
}

// withFsName inserts an --fsname flag among the sorted flags of want.
func withFsName(want []string, flag string) []string {
	out := make([]string, 0, len(want)+1)
	done := false
	for _, a := range want {
		if !done && (a == "--daemon" || a > flag) {
			out = append(out, flag)
			done = true
		}
		out = append(out, a)
	}
	return out
}

func TestHelperSloppyWarnsInstead(t *testing.T) {
	r, err := parseHelperArgs([]string{"d", "/m", "-s", "-o", "colour=blue,emulator=/e"})
	if err != nil {
		t.Fatal(err)
	}
	args, warnings, err := r.mountArgs()
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "colour") {
		t.Fatalf("sloppy: %q %q %v", args, warnings, err)
	}
	if !reflect.DeepEqual(args, []string{"--emulator=/e", "--fsname=d", "--daemon", "/m"}) {
		t.Errorf("args %q", args)
	}
}

func TestIsHelperCall(t *testing.T) {
	tests := []struct {
		argv0 string
		args  []string
		want  bool
	}{
		{"/sbin/mount.fuse.drimefs", []string{"drime", "/mnt/d", "-o", "rw"}, true},
		{"mount.fuse.drimefs", []string{"drime", "/mnt/d"}, true},
		{"drimefs", []string{"drime", "/mnt/d", "-o", "rw,dev,suid"}, true}, // from mount.fuse3
		{"drimefs", []string{"drime", "/mnt/d"}, true},
		{"drimefs", []string{"mount", "/mnt/d"}, false},
		{"drimefs", []string{"status", "/mnt/d"}, false},
		{"drimefs", []string{"mout", "mnt"}, false}, // a typo, not a helper call
		{"drimefs", []string{"version"}, false},
		{"drimefs", []string{"--help"}, false},
		{"drimefs", nil, false},
	}
	for _, tt := range tests {
		if got := isHelperCall(tt.argv0, tt.args); got != tt.want {
			t.Errorf("isHelperCall(%q, %q) = %v, want %v", tt.argv0, tt.args, got, tt.want)
		}
	}
}
