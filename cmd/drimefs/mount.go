package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	apiURL, tokenFile, emulatorDir, cacheDir string
	workspace                                int64
	cacheMax, partSize                       int64
	transfers, partConcurrency               int
	dirTTL                                   time.Duration
	fsyncMode                                string
	deleteForever, readOnly, allowOther      bool
	uid, gid                                 int
	umask                                    string
	logLevel, logFormat, metricsAddr         string
	passthrough, debugFuse, daemon           bool
}

func mountFlagSet(m *mountFlags) *flag.FlagSet {
	fs := newFlagSet("mount", "[flags] MOUNTPOINT",
		"Mount a Drime drive at MOUNTPOINT (an empty folder) in the foreground.\n"+
			"The token comes from $DRIME_TOKEN or --token-file, never from a flag value.\n"+
			"Ctrl-C (or umount) unmounts and waits for queued uploads; a second Ctrl-C exits at once\n"+
			"and the rest is uploaded at the next mount.")
	apiDefault := drime.DefaultBaseURL
	if v := os.Getenv("DRIME_API_URL"); v != "" {
		apiDefault = v
	}
	fs.StringVar(&m.apiURL, "api-url", apiDefault, "Drime API root (env DRIME_API_URL)")
	fs.StringVar(&m.tokenFile, "token-file", "", "read the token from this file (mode 0600) instead of $DRIME_TOKEN")
	fs.StringVar(&m.emulatorDir, "emulator", "", "start an in-process Drime emulator storing in `DIR` and mount it (no token needed)")
	fs.Int64Var(&m.workspace, "workspace", 0, "Drime workspace id (0 = personal space)")
	fs.StringVar(&m.cacheDir, "cache-dir", "", "local cache (spool, queue, read cache); default $XDG_CACHE_HOME/drimefs/<account>-<workspace>")
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
	fs.IntVar(&m.uid, "uid", os.Getuid(), "owner of all files")
	fs.IntVar(&m.gid, "gid", os.Getgid(), "group of all files")
	fs.StringVar(&m.umask, "umask", "022", "permission bits to clear (octal)")
	fs.StringVar(&m.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&m.logFormat, "log-format", "auto", "auto (console on a terminal, JSON otherwise), console or json")
	fs.StringVar(&m.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at `ADDR` (e.g. 127.0.0.1:9464)")
	fs.BoolVar(&m.passthrough, "passthrough", true, "let the kernel read and write local copies directly (Linux 6.9+, root)")
	fs.BoolVar(&m.debugFuse, "debug-fuse", false, "log every FUSE request")
	fs.BoolVar(&m.daemon, "daemon", false, "detach once the mount is ready")
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
	umask, err := strconv.ParseUint(m.umask, 8, 32)
	if err != nil {
		return usageError{fmt.Sprintf("invalid --umask %q (octal, e.g. 022)", m.umask)}
	}
	fsync := fs.FsyncLocal
	switch m.fsyncMode {
	case "local":
	case "remote":
		fsync = fs.FsyncRemote
	default:
		return usageError{fmt.Sprintf("invalid --fsync %q (local or remote)", m.fsyncMode)}
	}
	if m.transfers < 1 || m.partConcurrency < 1 {
		return usageError{"--transfers and --part-concurrency must be at least 1"}
	}
	if m.partSize < uploader.MinPartSize {
		return usageError{fmt.Sprintf("--part-size must be at least %s", formatSize(uploader.MinPartSize))}
	}
	log, err := newLogger(m.logLevel, m.logFormat, os.Stderr)
	if err != nil {
		return err
	}
	if m.daemon && os.Getenv(daemonEnv) == "" {
		return daemonize(args)
	}
	mp, err := checkMountpoint(pos[0])
	if err != nil {
		return err
	}
	if err := checkFuse(); err != nil {
		return err
	}
	r, err := connect(&m, log)
	if err != nil {
		return err
	}
	defer r.close()
	return serve(&m, mp, uint32(umask), fsync, r, log)
}

// serve runs the mount until it is unmounted or signalled.
func serve(m *mountFlags, mp string, umask uint32, fsync fs.FsyncMode, r *remoteSetup, log zerolog.Logger) error {
	cacheDir, err := prepareCacheDir(m, r)
	if err != nil {
		return err
	}
	metrics := newMetrics()
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
		DirCacheTTL: m.dirTTL, Fsync: fsync, Passthrough: m.passthrough, ControlSocket: control,
		Op: metrics.fuseOp,
	})
	defer fsys.Close()
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
		Msg("mounted")
	notifyReady()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	served := make(chan struct{})
	go func() { srv.Wait(); close(served) }()
	select {
	case s := <-sigs:
		log.Info().Str("signal", s.String()).Msg("unmounting")
		unmount(srv, mp, log)
	case <-served:
		log.Info().Msg("unmounted")
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
