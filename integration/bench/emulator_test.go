package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/drimefs/drimefs/drime"
	"github.com/drimefs/drimefs/drime/emulator"
)

// emu is an in-process Drime emulator serving on a real loopback port.
type emu struct {
	srv   *emulator.Server
	hs    *http.Server
	addr  string
	token string
}

// startEmu starts an emulator storing in dir.
func startEmu(dir string) (*emu, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	e := &emu{token: "42|" + hex.EncodeToString(b[:])}
	srv, err := emulator.New(emulator.Config{DataDir: dir, Tokens: []string{e.token}, Logger: zerolog.Nop(), Seed: 1})
	if err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("emulator listen: %w", err)
	}
	e.srv, e.addr = srv, ln.Addr().String()
	e.hs = &http.Server{Handler: srv}
	go func() { _ = e.hs.Serve(ln) }()
	return e, nil
}

func (e *emu) close() {
	_ = e.hs.Close()
	_ = e.srv.Close()
}

func (e *emu) apiURL() string { return "http://" + e.addr + "/api/v1" }

// downloadURL is where Drime serves an entry's bytes (what curl fetches).
func (e *emu) downloadURL(id int64) string { return fmt.Sprintf("%s/file-entries/%d", e.apiURL(), id) }

func (e *emu) setFaults(spec string) error {
	if err := e.srv.SetFaults(spec); err != nil {
		return fmt.Errorf("set emulator faults %q: %w", spec, err)
	}
	return nil
}

// client is a Drime client for seeding and checking the emulator.
func (e *emu) client() (*drime.Client, error) {
	c, err := drime.New(drime.Config{BaseURL: e.apiURL(), Token: e.token, Logger: zerolog.Nop(),
		Retry: drime.RetryPolicy{MaxAttempts: 10, Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond}})
	if err != nil {
		return nil, fmt.Errorf("drime client: %w", err)
	}
	return c, nil
}

// lookup finds the entry at a slash-separated path by listing folders.
func (e *emu) lookup(ctx context.Context, p string) (*drime.Entry, error) {
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	var cur *drime.Entry
	parent := int64(0)
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		es, err := c.ListFolder(ctx, parent)
		if err != nil {
			return nil, fmt.Errorf("list %d looking for %s: %w", parent, p, err)
		}
		cur = nil
		for i := range es {
			if es[i].Name == name {
				cur = &es[i]
				break
			}
		}
		if cur == nil {
			return nil, fmt.Errorf("%s: %q not in the emulator: %w", p, name, errNotFound)
		}
		parent = cur.ID
	}
	return cur, nil
}

var errNotFound = errors.New("not found")

// countFiles counts the files below the folder at path p in the emulator.
func (e *emu) countFiles(ctx context.Context, p string) (int, error) {
	c, err := e.client()
	if err != nil {
		return 0, err
	}
	top, err := e.lookup(ctx, p)
	if err != nil {
		return 0, err
	}
	n := 0
	var walk func(id int64) error
	walk = func(id int64) error {
		es, err := c.ListFolder(ctx, id)
		if err != nil {
			return fmt.Errorf("list %d: %w", id, err)
		}
		for i := range es {
			if es[i].IsDir() {
				if err := walk(es[i].ID); err != nil {
					return err
				}
			} else {
				n++
			}
		}
		return nil
	}
	return n, walk(top.ID)
}

// seedTree puts a tree into the emulator through the Drime API (folders
// with CreateFolder, files with POST /uploads), workers at once.
func (e *emu) seedTree(ctx context.Context, t tree, workers int) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	ids := map[string]int64{"": 0, ".": 0}
	for _, d := range t.dirs { // parents come first
		id, err := c.CreateFolder(ctx, ids[path.Dir(d)], path.Base(d))
		if err != nil {
			return fmt.Errorf("seed folder %s: %w", d, err)
		}
		ids[d] = id.ID
	}
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				f := t.files[i]
				data := t.content(i)
				_, err := c.Upload(ctx, drime.UploadRequest{ParentID: ids[path.Dir(f)], Name: path.Base(f),
					Body: bytes.NewReader(data), Size: int64(len(data))})
				if err != nil {
					errs <- fmt.Errorf("seed file %s: %w", f, err)
					return
				}
			}
		}()
	}
	var firstErr error
feed:
	for i := range t.files {
		select {
		case jobs <- i:
		case firstErr = <-errs:
			break feed
		case <-ctx.Done():
			firstErr = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil {
		select {
		case firstErr = <-errs:
		default:
		}
	}
	return firstErr
}
