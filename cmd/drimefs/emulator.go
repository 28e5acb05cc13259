package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/drimefs/drimefs/drime/emulator"
)

func runEmulator(args []string) error {
	fs := newFlagSet("emulator", "--listen ADDR --data DIR [--token T] [--faults SPEC]",
		"Serve a Drime-compatible API at http://ADDR/api/v1 with on-disk storage in DIR.\n"+
			"Without --token, a token is generated once, kept in DIR/token and printed.\n"+
			"Faults: comma-separated OP:KIND:RATE items, changeable with PUT /__emulator/faults.")
	listen := fs.String("listen", "127.0.0.1:8787", "address to listen on")
	data := fs.String("data", "", "folder for entries and file bytes (created if missing)")
	token := fs.String("token", "", "accepted bearer token")
	faults := fs.String("faults", "", "fault SPEC, e.g. put-part:500:0.2,any:latency=20ms:1")
	seed := fs.Int64("seed", 0, "fault random seed (0 = random)")
	var quota int64 = 1 << 40
	fs.Var(sizeFlag{&quota}, "quota", "plan size reported by space usage")
	partTTL := fs.Duration("part-url-ttl", time.Hour, "lifetime of presigned part URLs")
	logLevel := fs.String("log-level", "info", "debug logs every request")
	logFormat := fs.String("log-format", "auto", "auto, console or json")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usageError{"--data DIR is required"}
	}
	log, err := newLogger(*logLevel, *logFormat, os.Stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	tok := *token
	if tok == "" {
		if tok, err = loadOrCreateToken(filepath.Join(*data, "token")); err != nil {
			return err
		}
		fmt.Printf("token: %s (kept in %s)\n", tok, filepath.Join(*data, "token"))
	}
	emu, err := emulator.New(emulator.Config{DataDir: *data, Tokens: []string{tok}, Faults: *faults,
		Seed: *seed, QuotaBytes: quota, PartURLTTL: *partTTL, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		emu.Close()
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	hs := &http.Server{Handler: emu, ReadHeaderTimeout: 30 * time.Second}
	log.Info().Str("api", "http://"+ln.Addr().String()+"/api/v1").Str("data", absPath(*data)).
		Str("faults", *faults).Msg("emulator listening")
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sigs:
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(ctx)
	return emu.Close()
}

func loadOrCreateToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), nil
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	t := "1|" + hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save token: %w", err)
	}
	return t, nil
}
