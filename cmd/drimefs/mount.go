package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/drime"
	"github.com/drimefs/drimefs/fs"
	"github.com/drimefs/drimefs/uploader"
)

type mountFlags struct {
	apiURL, tokenFile, emulatorDir, cacheDir  string
	workspace                                 int64
	cacheMax, partSize                        int64
	transfers, partConcurrency                int
	dirTTL                                    time.Duration
	fsyncMode                                 string
	deleteForever, readOnly, allowOther       bool
	uid, gid                                  int
	umask                                     string
	logLevel, logFormat, logFile, metricsAddr string
	fsName                                    string
	cpuProfile                                string
	passthrough, debugFuse, daemon            bool
}

func mountFlagSet(m *mountFlags) *flag.FlagSet {
	fs := newFlagSet("mount", "[flags] MOUNTPOINT",
		"Mount a Drime drive at MOUNTPOINT (an empty folder) in the foreground (--daemon: in the background).\n"+
			"The token comes from $DRIME_TOKEN or --token-file, never from a flag value.\n"+
			"Ctrl-C, SIGTERM or umount unmount and wait for queued uploads; a second signal exits at once\n"+
			"and the rest is uploaded at the next mount.\n\n"+
			"mount(8) and /etc/fstab use the same flags as -o options, - written as _ (installed as\n"+
			"/sbin/mount.fuse.drimefs by `make install`):\n"+
			"  mount -t fuse.drimefs -o token_file=/etc/drimefs/token,cache_dir=/var/cache/drimefs,ro drime /mnt/drime\n"+
			"  drime  /mnt/drime  fuse.drimefs  _netdev,nofail,token_file=/etc/drimefs/token  0 0\n"+
			"Generic options (defaults, rw, _netdev, noauto, nofail, user, x-systemd.*, ...) are ignored.")
	apiDefault := drime.DefaultBaseURL
	if v := os.Getenv("DRIME_API_URL"); v != "" {
		apiDefault = v
	}
	fs.StringVar(&m.apiURL, "api-url", apiDefault, "Drime API root (env DRIME_API_URL)")
	fs.StringVar(&m.tokenFile, "token-file", "", "read the token from `FILE` (mode 0600) instead of $DRIME_TOKEN")
	fs.StringVar(&m.emulatorDir, "emulator", "", "start an in-process Drime emulator storing in `DIR` and mount it (no token needed)")
	fs.Int64Var(&m.workspace, "workspace", 0, "Drime workspace id (0 = personal space)")
	fs.StringVar(&m.cacheDir, "cache-dir", "", "local cache `DIR` (spool, queue, read cache); default $XDG_CACHE_HOME/drimefs/<account>-<workspace>\n"+
		"(~/.cache/...; /var/cache/drimefs/... for root without $HOME)")
	m.cacheMax = 10 << 30
	fs.Var(sizeFlag{&m.cacheMax}, "cache-max-size", "bound of the read cache, e.g. 10G (files not yet uploaded are never evicted)")
	fs.IntVar(&m.transfers, "transfers", 4, "files uploaded at once")
	fs.IntVar(&m.partConcurrency, "part-concurrency", 4, "parts of one file uploaded at once")
	m.partSize = uploader.MinPartSize
	fs.Var(sizeFlag{&m.partSize}, "part-size", "multipart part size (at least 5M; grown for files over 10,000 parts)")
	fs.DurationVar(&m.dirTTL, "dir-cache-ttl", time.Minute, "how long a folder listing is used before it is refreshed from Drime")
	fs.StringVar(&m.fsyncMode, "fsync", "local", "what fsync waits for: local (data on local stable storage) or remote (data in Drime)")
	fs.BoolVar(&m.deleteForever, "delete-forever", false, "delete without going through Drime's trash")
	fs.BoolVar(&m.readOnly, "read-only", false, "mount read-only")
	fs.BoolVar(&m.allowOther, "allow-other", false, "let other users access the mount (needs user_allow_other in /etc/fuse.conf)")
	fs.IntVar(&m.uid, "uid", os.Getuid(), "owner shown for all files (default: your user id)")
	fs.IntVar(&m.gid, "gid", os.Getgid(), "group shown for all files (default: your group id)")
	fs.StringVar(&m.umask, "umask", "022", "permission bits to clear (octal)")
	fs.StringVar(&m.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&m.logFormat, "log-format", "auto", "auto (console on a terminal, JSON otherwise), console or json")
	fs.StringVar(&m.logFile, "log-file", "", "append logs to `FILE` (created 0600) instead of stderr")
	fs.StringVar(&m.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at `ADDR` (e.g. 127.0.0.1:9464)")
	fs.BoolVar(&m.passthrough, "passthrough", true, "let the kernel read and write local copies directly (Linux 6.9+, root)")
	fs.BoolVar(&m.debugFuse, "debug-fuse", false, "log every FUSE request")
	fs.StringVar(&m.cpuProfile, "cpuprofile", "", "write a CPU profile of the mount to `FILE` (for performance work)")
	fs.StringVar(&m.fsName, "fsname", "drimefs", "source name shown for the mount in /proc/mounts and df (mount(8) sets it from fstab's first field)")
	fs.BoolVar(&m.daemon, "daemon", false, "run in the background: return once the mount is ready (exit 0) or failed to start\n"+
		"(exit non-zero, with the reason); logs go to --log-file, else to the inherited stderr")
	return fs
}

func runMount(args []string) error {
	var m mountFlags
	pos, err := parse(mountFlagSet(&m), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"expected one MOUNTPOINT"}
	}
	umask, fsync, err := checkMountFlags(&m)
	if err != nil {
		return err
	}
	if _, err := newLogger(m.logLevel, m.logFormat, io.Discard); err != nil {
		return err
	}
	if m.daemon && !isDaemonChild() {
		return daemonize(args, m.logFile)
	}
	st := newStarter()
	err = mountMain(&m, pos[0], umask, fsync, st)
	if st.fail(err) && m.logFile == "" {
		// The --daemon parent prints it; the stderr we share shows it once.
		var ue usageError
		if errors.As(err, &ue) {
			return exitError{2}
		}
		return exitError{1}
	}
	return err
}

// checkMountFlags validates what flag parsing cannot.
func checkMountFlags(m *mountFlags) (umask uint32, fsync fs.FsyncMode, err error) {
	u, err := strconv.ParseUint(m.umask, 8, 32)
	if err != nil {
		return 0, 0, usageError{fmt.Sprintf("invalid --umask %q (octal, e.g. 022)", m.umask)}
	}
	switch m.fsyncMode {
	case "local":
		fsync = fs.FsyncLocal
	case "remote":
		fsync = fs.FsyncRemote
	default:
		return 0, 0, usageError{fmt.Sprintf("invalid --fsync %q (local or remote)", m.fsyncMode)}
	}
	if m.transfers < 1 || m.partConcurrency < 1 {
		return 0, 0, usageError{"--transfers and --part-concurrency must be at least 1"}
	}
	if m.partSize < uploader.MinPartSize {
		return 0, 0, usageError{fmt.Sprintf("--part-size must be at least %s", formatSize(uploader.MinPartSize))}
	}
	return uint32(u), fsync, nil
}

// mountMain connects, mounts and serves until unmounted; st hears when the
// mount is ready.
func mountMain(m *mountFlags, mountpoint string, umask uint32, fsync fs.FsyncMode, st *starter) error {
	if st.pipe != nil {
		// A daemon must not keep the caller's working directory busy.
		for _, p := range []*string{&mountpoint, &m.tokenFile, &m.emulatorDir, &m.cacheDir, &m.logFile} {
			if *p != "" {
				*p = absPath(*p)
			}
		}
		_ = os.Chdir("/")
	}
	var logOut io.Writer = os.Stderr
	if m.logFile != "" {
		f, err := openLogFile(m.logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		logOut = f
	}
	log, err := newLogger(m.logLevel, m.logFormat, logOut)
	if err != nil {
		return err
	}
	// Logs may go to a pipe (a terminal's tee, the journal) that goes away;
	// losing log lines is better than dying in the middle of uploads.
	signal.Ignore(syscall.SIGPIPE)
	// Everything drimefs creates (cache dir, queue database, spool) is
	// private, whatever the caller's umask.
	syscall.Umask(0o077)
	if m.cpuProfile != "" {
		stop, err := startCPUProfile(m.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	mp, err := checkMountpoint(mountpoint)
	if err != nil {
		return err
	}
	if err := checkFuse(); err != nil {
		return err
	}
	metrics := newMetrics()
	r, err := connect(m, log, metrics.observe)
	if err != nil {
		return err
	}
	defer r.close()
	return serve(m, mp, umask, fsync, r, metrics, st, log)
}

// serve runs the mount until it is unmounted or signalled.
func serve(m *mountFlags, mp string, umask uint32, fsync fs.FsyncMode, r *remoteSetup, metrics *metrics, st *starter, log zerolog.Logger) error {
	cacheDir, err := prepareCacheDir(m, r)
	if err != nil {
		return err
	}
	store, err := cache.Open(cache.Options{Dir: cacheDir, MaxCacheBytes: m.cacheMax, Logger: log.With().Str("component", "cache").Logger()})
	if err != nil {
		return explainStoreError(cacheDir, err)
	}
	defer store.Close()
	metrics.watchStore(store)
	upl := uploader.New(uploader.Options{
		Store: store, Remote: r.client, Logger: log.With().Str("component", "uploader").Logger(),
		Transfers: m.transfers, PartConcurrency: m.partConcurrency, PartSize: m.partSize,
		DeleteForever: m.deleteForever, Metrics: metrics,
	})
	store.SetJobHook(upl.Notify)
	if err := upl.Start(); err != nil {
		return err
	}
	defer upl.Stop()
	metrics.watchUploader(upl)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	control := controlName()
	if err := serveControl(ctx, control, upl, log); err != nil {
		return err
	}
	if m.metricsAddr != "" {
		if err := metrics.serve(ctx, m.metricsAddr, log); err != nil {
			return err
		}
	}
	fsys := fs.New(fs.Options{
		Store: store, Remote: r.client, Queue: upl, Logger: log.With().Str("component", "fs").Logger(),
		UID: uint32(m.uid), GID: uint32(m.gid), Umask: umask, ReadOnly: m.readOnly,
		DirCacheTTL: m.dirTTL, Fsync: fsync, Passthrough: m.passthrough, ControlSocket: control, FsName: m.fsName,
		Op: metrics.fuseOp, CacheRead: metrics.cacheRead,
	})
	defer fsys.Close()
	// Catch signals before the mount appears: a SIGTERM sent as soon as it
	// is there must unmount and drain, not kill the process.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	srv, err := fsys.Mount(mp, m.allowOther, m.debugFuse)
	if err != nil {
		return fmt.Errorf("mount %s: %w%s", mp, err, mountHint(err))
	}
	used, max := store.Files.Used()
	log.Info().Str("version", version).Str("account", r.account).Int64("workspace", m.workspace).
		Str("api", r.apiURL).Str("mountpoint", mp).Str("cache_dir", cacheDir).
		Str("read_cache", humanBytes(used)+" of "+humanBytes(max)).Int("transfers", m.transfers).
		Int("part_concurrency", m.partConcurrency).Str("part_size", formatSize(m.partSize)).
		Bool("passthrough", fsys.PassthroughActive()).Bool("read_only", m.readOnly).
		Str("metrics", m.metricsAddr).Str("fsync", m.fsyncMode).Msg("mounted")
	st.ready(mp)

	served := make(chan struct{})
	go func() { srv.Wait(); close(served) }()
	select {
	case s := <-sigs:
		log.Info().Str("signal", s.String()).Msg("unmounting")
		notifyStopping("unmounting; finishing queued uploads")
		unmount(srv, mp, log)
	case <-served:
		log.Info().Msg("unmounted")
		notifyStopping("unmounted; finishing queued uploads")
	}
	drainCtx, stopDrain := context.WithCancel(context.Background())
	go func() {
		select {
		case s := <-sigs:
			log.Warn().Str("signal", s.String()).Msg("second signal: exiting now; queued uploads resume at the next mount")
			stopDrain()
		case <-drainCtx.Done():
		}
	}()
	// Unmounted: no handle is open any more, even if the kernel dropped
	// some release requests on the way out; files waiting for their
	// writers to close may go now.
	store.ResetWriters()
	upl.Touch(0)
	err = upl.Drain(drainCtx)
	stopDrain()
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("draining the upload queue")
	}
	if err := store.Sync(); err != nil {
		log.Error().Err(err).Msg("syncing the cache")
	}
	log.Info().Msg("stopped")
	return nil
}

// unmount detaches the file system; a busy mount is detached lazily so no
// new operation starts while uploads drain.
func unmount(srv interface{ Unmount() error }, mp string, log zerolog.Logger) {
	if err := srv.Unmount(); err == nil {
		return
	} else {
		log.Warn().Err(err).Msg("mount busy; detaching it lazily")
	}
	if os.Geteuid() == 0 {
		if err := syscall.Unmount(mp, 2 /* MNT_DETACH */); err == nil {
			return
		}
	}
	if err := runQuiet("fusermount3", "-u", "-z", mp); err != nil {
		log.Error().Err(err).Str("mountpoint", mp).Msg("could not unmount; run `fusermount3 -u -z` on it")
	}
}

func explainStoreError(dir string, err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("cache dir %s is not writable (%w); choose another with --cache-dir", dir, err)
	}
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("cache dir %s: the disk is full (%w); free space or choose another --cache-dir", dir, err)
	}
	if msg := err.Error(); containsAny(msg, "Cannot acquire directory lock", "resource temporarily unavailable") {
		return fmt.Errorf("cache dir %s is in use by another drimefs mount; unmount it first or use another --cache-dir", dir)
	}
	return fmt.Errorf("open cache dir %s: %w", dir, err)
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
