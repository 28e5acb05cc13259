package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/drimefs/drimefs/uploader"
)

func runStatus(args []string) error {
	fs := newFlagSet("status", "MOUNTPOINT [--json] [--once|--watch] [--interval D]",
		"Show the upload queue of a mount: totals, throughput and time left, a progress bar per\n"+
			"uploading file, pending files, and failed files with their reasons.\n"+
			"On a terminal the view updates live until Ctrl-C; otherwise it is printed once.\n"+
			"Per file: getfattr -n user.drimefs.state FILE (uploaded, pending, uploading 37%, failed: reason).")
	asJSON := fs.Bool("json", false, "print the queue once as JSON, for scripts")
	once := fs.Bool("once", false, "print once, even on a terminal")
	watch := fs.Bool("watch", false, "keep refreshing, even when not on a terminal")
	interval := fs.Duration("interval", time.Second, "refresh interval of the live view")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"expected one MOUNTPOINT"}
	}
	if *interval < 100*time.Millisecond {
		return usageError{"--interval must be at least 100ms"}
	}
	hc, err := controlClient(pos[0])
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *asJSON {
		st, err := fetchStatus(ctx, hc)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	tty := term.IsTerminal(int(os.Stdout.Fd()))
	v := &statusView{mountpoint: absPath(pos[0]), width: 80, tty: tty, utf8: tty && utf8Locale()}
	live := (tty || *watch) && !*once
	if !live {
		st, err := fetchStatus(ctx, hc)
		if err != nil {
			return err
		}
		v.width = 1 << 20 // no terminal: never cut paths
		v.render(os.Stdout, st, time.Now())
		return nil
	}
	return liveStatus(ctx, hc, v, *interval)
}

// liveStatus redraws the view every interval until ctx ends (Ctrl-C).
func liveStatus(ctx context.Context, hc *http.Client, v *statusView, interval time.Duration) error {
	if v.tty {
		fmt.Print("\033[?25l\033[H\033[2J") // hide the cursor, clear once
		defer fmt.Print("\033[?25h")
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		st, err := fetchStatus(ctx, hc)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var b strings.Builder
		if v.tty {
			if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
				v.width, v.height = w, h
			}
			b.WriteString("\033[H")
		}
		v.render(&b, st, time.Now())
		if v.tty {
			b.WriteString("\033[J") // clear below the frame
		} else {
			b.WriteString("\n")
		}
		os.Stdout.WriteString(b.String())
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func fetchStatus(ctx context.Context, hc *http.Client) (uploader.Status, error) {
	var st uploader.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://drimefs/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return st, fmt.Errorf("ask the mount: %w (is it still mounted? see `drimefs status --help`)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return st, fmt.Errorf("mount answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func runSync(args []string) error {
	fs := newFlagSet("sync", "MOUNTPOINT [--timeout D] [--retry-failed]",
		"Wait until everything written to the mount before this call is in Drime.\n"+
			"Exits 0 when it is, 1 (naming the files) when uploads failed or the timeout passed.")
	timeout := fs.Duration("timeout", 0, "give up after this long (0 = wait as long as it takes)")
	retry := fs.Bool("retry-failed", false, "retry failed uploads first")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"expected one MOUNTPOINT"}
	}
	hc, err := controlClient(pos[0])
	if err != nil {
		return err
	}
	ctx := context.Background()
	q := url.Values{}
	if *timeout > 0 {
		q.Set("timeout", timeout.String())
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout+10*time.Second)
		defer cancel()
	}
	if *retry {
		q.Set("retry_failed", "1")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://drimefs/sync?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("ask the mount: %w", err)
	}
	defer resp.Body.Close()
	var res syncResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return fmt.Errorf("read the mount's answer: %w", err)
	}
	if res.Retried > 0 {
		fmt.Fprintf(os.Stderr, "retrying %d failed uploads\n", res.Retried)
	}
	if res.OK {
		return nil
	}
	fmt.Fprintf(os.Stderr, "drimefs sync: %s\n", res.Error)
	for _, f := range res.Failed {
		fmt.Fprintf(os.Stderr, "  %s: %s\n", f.Path, f.Reason)
	}
	return exitError{1}
}
