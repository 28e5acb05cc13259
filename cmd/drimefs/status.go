package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/drimefs/drimefs/uploader"
)

func runStatus(args []string) error {
	fs := newFlagSet("status", "MOUNTPOINT [--json] [--watch]",
		"Show the upload queue of a mount: pending, uploading (bytes, %, rate) and failed files with reasons.")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	watch := fs.Bool("watch", false, "refresh every second until interrupted (default on a terminal: once)")
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
	for {
		st, err := fetchStatus(hc)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		if *watch && term.IsTerminal(int(os.Stdout.Fd())) {
			fmt.Print("\033[H\033[2J")
		}
		printStatus(os.Stdout, st, term.IsTerminal(int(os.Stdout.Fd())))
		if !*watch {
			return nil
		}
		time.Sleep(time.Second)
	}
}

func fetchStatus(hc *http.Client) (uploader.Status, error) {
	var st uploader.Status
	resp, err := hc.Get("http://drimefs/status")
	if err != nil {
		return st, fmt.Errorf("ask the mount: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return st, fmt.Errorf("mount answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func printStatus(w io.Writer, st uploader.Status, tty bool) {
	if st.Paused != "" {
		fmt.Fprintf(w, "UPLOADS PAUSED: %s\n", st.Paused)
	}
	fmt.Fprintf(w, "uploading %d, pending %d (%s to go), failed %d, deletions pending %d; uploaded this mount: %d files, %s\n",
		len(st.Uploading), len(st.Pending), humanBytes(st.PendingBytes), len(st.Failed), st.Deletions,
		st.UploadedFiles, humanBytes(st.UploadedBytes))
	for _, f := range st.Uploading {
		pct := int64(100)
		if f.Size > 0 {
			pct = f.Done * 100 / f.Size
		}
		bar := ""
		if tty {
			bar = progressBar(pct, 20) + " "
		}
		fmt.Fprintf(w, "  uploading %s%3d%%  %s / %s  %s/s  %s\n", bar, pct, humanBytes(f.Done), humanBytes(f.Size),
			humanBytes(int64(f.Rate)), f.Path)
	}
	const maxPending = 20
	for i, f := range st.Pending {
		if i == maxPending {
			fmt.Fprintf(w, "  … and %d more pending\n", len(st.Pending)-maxPending)
			break
		}
		fmt.Fprintf(w, "  pending   %10s  %s\n", humanBytes(f.Size), f.Path)
	}
	for _, f := range st.Failed {
		fmt.Fprintf(w, "  FAILED    %10s  %s: %s\n", humanBytes(f.Size), f.Path, f.Reason)
	}
	for _, d := range st.FailedDeletions {
		fmt.Fprintf(w, "  FAILED    deletion %s\n", d)
	}
	if len(st.Failed) > 0 {
		fmt.Fprintf(w, "Failed files stay in the local cache; retry with `drimefs sync --retry-failed MOUNTPOINT`.\n")
	}
}

func progressBar(pct int64, width int) string {
	n := int(pct) * width / 100
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
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
