package drime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/drimefs/drimefs/drime"
)

// One test per fault kind of the emulator's SPEC: retryable faults are
// recovered from (and "lost" answers never leave duplicates); the others
// come back as typed errors. The emulator's fault RNG has a fixed seed.

// Status faults on storage PUTs and complete: the upload still lands, byte
// for byte.
func TestFaultStatusPutPartAndComplete(t *testing.T) {
	e := startEmu(t)
	ctx := context.Background()
	data := randomBytes(12<<20, 10)
	e.faults("put-part:500:0.5,complete:502:0.5")
	ent, err := e.multipartUpload(ctx, 0, "big", data)
	if err != nil {
		t.Fatal(err)
	}
	// Small one-part uploads until complete:502 has surely fired.
	for i := 0; i < 20 && e.injected("complete:502") < 2; i++ {
		if _, err := e.multipartUpload(ctx, 0, fmt.Sprintf("small%d", i), []byte("tiny")); err != nil {
			t.Fatal(err)
		}
	}
	e.faults("")
	if e.injected("put-part:500") == 0 || e.injected("complete:502") == 0 {
		t.Errorf("faults not exercised: %v", e.srv.Stats().FaultsInjected)
	}
	got, err := e.download(ctx, ent, 0, -1)
	if err != nil || sum(got) != sum(data) {
		t.Errorf("download after faults: %d bytes, %v", len(got), err)
	}
}

// 429 with Retry-After: 1 on every sign request for a while: the client
// waits as told and succeeds once the limit lifts.
func TestFault429HonoursRetryAfter(t *testing.T) {
	e := startEmu(t)
	ctx := context.Background()
	up, err := e.c.CreateMultipart(ctx, drime.MultipartCreateRequest{Name: "a", Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.faults("sign:429:1")
	time.AfterFunc(300*time.Millisecond, func() { _ = e.srv.SetFaults("") })
	start := time.Now()
	urls, err := e.c.SignParts(ctx, *up, []int{1})
	if err != nil || urls[1] == "" {
		t.Fatalf("SignParts = %v, %v", urls, err)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("retried after %v; Retry-After: 1 not honoured", el)
	}
	if !strings.Contains(e.logs.String(), `"status":429`) {
		t.Error("the 429 retry was not logged")
	}
}

// Connections dropped before the part is stored: retried, same bytes.
func TestFaultDropPutPart(t *testing.T) {
	e := startEmu(t)
	ctx := context.Background()
	data := randomBytes(11<<20, 12)
	e.faults("put-part:drop:0.3")
	ent, err := e.multipartUpload(ctx, 0, "dropped", data)
	e.faults("")
	if err != nil {
		t.Fatal(err)
	}
	if e.injected("put-part:drop") == 0 {
		t.Error("put-part:drop never fired")
	}
	got, err := e.download(ctx, ent, 0, -1)
	if err != nil || sum(got) != sum(data) {
		t.Errorf("download: %d bytes, %v", len(got), err)
	}
}

// "lost": the work is done, the answer never arrives. Each
// non-idempotent call must adopt its own result, never act twice.
func TestFaultLostNoDuplicates(t *testing.T) {
	e := startEmu(t)
	ctx := context.Background()
	dest, err := e.c.CreateFolder(ctx, 0, "dest")
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	e.faults("upload:lost:0.5,entries:lost:0.5,folders:lost:0.5")
	for i := range n {
		data := []byte(fmt.Sprintf("content %d", i))
		if _, err := e.c.Upload(ctx, drime.UploadRequest{Name: fmt.Sprintf("up%d", i), Body: bytes.NewReader(data),
			Size: int64(len(data))}); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		if _, err := e.multipartUpload(ctx, 0, fmt.Sprintf("mp%d", i), data); err != nil {
			t.Fatalf("multipart %d: %v", i, err)
		}
		if _, err := e.c.CreateFolder(ctx, 0, fmt.Sprintf("dir%d", i)); err != nil {
			t.Fatalf("folder %d: %v", i, err)
		}
	}
	e.faults("")
	for _, k := range []string{"upload:lost", "entries:lost", "folders:lost"} {
		if e.injected(k) == 0 {
			t.Errorf("%s never fired", k)
		}
	}
	if !strings.Contains(e.logs.String(), "adopted its result") {
		t.Error("no lost answer was adopted from the listing")
	}
	root := e.list(0)
	for i := range n {
		for _, name := range []string{"up%d", "mp%d", "dir%d"} {
			if got := len(named(root, fmt.Sprintf(name, i))); got != 1 {
				t.Errorf("%s: %d entries, want exactly 1", fmt.Sprintf(name, i), got)
			}
		}
	}

	// Moves whose answer is lost: verified in the destination.
	var ids []int64
	for _, x := range root {
		if strings.HasPrefix(x.Name, "up") {
			ids = append(ids, x.ID)
		}
	}
	e.faults("move:lost:0.5")
	for _, id := range ids {
		if err := e.c.Move(ctx, []int64{id}, dest.ID); err != nil {
			t.Fatalf("move %d: %v", id, err)
		}
	}
	e.faults("")
	if e.injected("move:lost") == 0 {
		t.Error("move:lost never fired")
	}
	if in := e.list(dest.ID); len(in) != len(ids) {
		t.Errorf("dest holds %d entries, want %d", len(in), len(ids))
	}
}

// Cloudflare-style 520 HTML pages and 200 HTML pages on listings.
func TestFaultListing520AndHTML(t *testing.T) {
	e := startEmu(t)
	for i := range 5 {
		fileEntry(t, e, fmt.Sprintf("f%d", i), []byte("x"))
	}
	e.faults("list:520:0.5,list:html:0.3")
	for range 6 {
		if got := e.list(0); len(got) != 5 {
			t.Fatalf("listed %d entries", len(got))
		}
	}
	e.faults("")
	if e.injected("list:520") == 0 || e.injected("list:html") == 0 {
		t.Errorf("faults not exercised: %v", e.srv.Stats().FaultsInjected)
	}
}

// Latency on every request slows things down and breaks nothing.
func TestFaultLatency(t *testing.T) {
	e := startEmu(t)
	e.faults("any:latency=20ms:1")
	start := time.Now()
	f := fileEntry(t, e, "slow", []byte("abc"))
	got, err := e.download(context.Background(), f, 1, 2)
	e.faults("")
	if err != nil || string(got) != "bc" {
		t.Errorf("download = %q, %v", got, err)
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Errorf("two requests took %v, latency not applied", el)
	}
}

// A truncated download body is io.ErrUnexpectedEOF, never a short file.
func TestFaultTruncatedDownload(t *testing.T) {
	e := startEmu(t)
	data := randomBytes(1<<20, 13)
	f := fileEntry(t, e, "t.bin", data)
	e.faults("download:truncate:1")
	_, err := e.download(context.Background(), f, 0, -1)
	_, err2 := e.download(context.Background(), f, 1000, 5000)
	e.faults("")
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err2, io.ErrUnexpectedEOF) {
		t.Errorf("truncated download: %v / %v, want io.ErrUnexpectedEOF", err, err2)
	}
}

// A clean 4xx is reported at once as a typed error and not retried.
func TestFaultClean4xxNotRetried(t *testing.T) {
	e := startEmu(t)
	ctx := context.Background()
	e.faults("upload:400:1,rename:403:1,delete:404:1")
	before := e.srv.Stats().Requests["upload"]
	_, err := e.c.Upload(ctx, drime.UploadRequest{Name: "a", Body: strings.NewReader("a"), Size: 1})
	var ae *drime.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || drime.IsRetryable(err) {
		t.Errorf("upload: %v", err)
	}
	if n := e.srv.Stats().Requests["upload"] - before; n != 1 {
		t.Errorf("%d upload requests, want 1", n)
	}
	if _, err := e.c.Rename(ctx, 480000001, "x"); !errors.Is(err, drime.ErrForbidden) {
		t.Errorf("rename: %v, want ErrForbidden", err)
	}
	if err := e.c.Delete(ctx, []int64{480000001}, false); err != nil {
		t.Errorf("delete of a gone entry: %v, want nil", err)
	}
	e.faults("")
}

// Retryable faults that never stop: the client gives up with
// ErrUnavailable after its attempts, and says how many.
func TestFaultPersistent5xxIsUnavailable(t *testing.T) {
	e := startEmu(t)
	e.faults("list:503:1")
	_, err := e.c.ListFolder(context.Background(), 0)
	e.faults("")
	if !errors.Is(err, drime.ErrUnavailable) || !strings.Contains(err.Error(), "after 10 attempts") {
		t.Errorf("err = %v", err)
	}
}
