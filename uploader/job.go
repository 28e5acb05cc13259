package uploader

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/drime"
)

// process runs one job and reschedules it according to the outcome.
func (u *Uploader) process(it *item) {
	ab := &abandon{}
	u.mu.Lock()
	it.abandon = ab
	it.prog = &progress{start: time.Now()}
	gen := it.job.Gen
	u.mu.Unlock()

	err := u.run(u.ctx, it, ab)

	u.mu.Lock()
	defer u.mu.Unlock()
	it.running, it.abandon = false, nil
	defer u.wakeLocked()
	switch {
	case err == nil:
		if j, ok, _ := u.store.Job(it.id); ok && j.Seq != it.job.Seq {
			it.job = j // written again meanwhile
			return
		} else if ok {
			it.job = j
			return
		}
		delete(u.items, it.id)
		u.session.done(it.prog)
	case errors.Is(err, errGone):
		delete(u.items, it.id)
	case errors.Is(err, errBusy):
		it.busy = true // until its writers close (Touch)
	case errors.Is(err, errStale):
		// A newer generation takes over.
	case u.ctx.Err() != nil:
		// Shutting down: the job stays queued in the store.
	case ab.abandoned():
		// Abandoned because the file changed or was removed.
	case errors.Is(err, drime.ErrUnauthorized):
		u.pauseLocked(err)
	case retryable(err) && it.failures < maxFailures(err):
		it.failures++
		d := u.backoff(it.failures, err)
		it.notBefore = time.Now().Add(d)
		u.opts.Metrics.Retry(cause(err))
		u.log.Warn().Err(err).Str("file", u.path(it.id)).Int("attempt", it.failures).
			Dur("retry_in", d).Msg("upload failed; will retry")
	default:
		u.opts.Metrics.Failed()
		reason := err.Error()
		u.log.Error().Err(err).Str("file", u.path(it.id)).
			Msg("upload failed; the file stays in the local cache and is retried by `drimefs sync --retry-failed` or the next mount")
		if ferr := u.store.FailJob(it.id, gen, reason); ferr != nil {
			u.log.Error().Err(ferr).Msg("recording the failure")
		}
		it.job.Failed, it.job.Reason = true, reason
	}
}

var (
	errGone = errors.New("node removed")
	errBusy = errors.New("file is open for writing")
)

func (u *Uploader) run(ctx context.Context, it *item, ab *abandon) error {
	j, ok, err := u.store.Job(it.id)
	if err != nil {
		return err
	}
	if !ok {
		return errGone
	}
	u.mu.Lock()
	it.job = j
	u.mu.Unlock()
	if j.Failed {
		return errStale
	}
	if j.Place {
		return u.runPlace(ctx, j)
	}
	if j.Dir {
		return u.runDir(ctx, j)
	}
	return u.runFile(ctx, it, ab, j)
}

func (u *Uploader) runDir(ctx context.Context, j cache.Job) error {
	n, err := u.store.Get(j.Node)
	if errors.Is(err, cache.ErrNotFound) {
		return errGone
	}
	if err != nil {
		return err
	}
	if n.RemoteID != 0 {
		_, err := u.store.FinishDir(n.ID, cache.RemoteEntry{ID: n.RemoteID, Hash: n.RemoteHash}, n.RemoteParent, n.RemoteName)
		return err
	}
	_, err = u.EnsureFolder(ctx, j.Node)
	return err
}

// runFile uploads one generation of a file and records the result.
func (u *Uploader) runFile(ctx context.Context, it *item, ab *abandon, j cache.Job) error {
	n, err := u.store.Get(j.Node)
	if errors.Is(err, cache.ErrNotFound) {
		return errGone
	}
	if err != nil {
		return err
	}
	if n.Gen != j.Gen {
		return errStale
	}
	if u.busy(n.ID) {
		return errBusy
	}
	parent, err := u.EnsureFolder(ctx, n.Parent)
	if err != nil {
		return fmt.Errorf("prepare folder: %w", err)
	}
	f, err := u.store.Files.Open(n.ID, os.O_RDONLY)
	if err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	defer f.Close()
	it.prog.setTotal(j.Size)
	start := time.Now()
	if e := u.log.Debug(); e.Enabled() {
		e.Str("file", u.path(n.ID)).Int64("size", j.Size).Msg("upload started")
	}
	var e *drime.Entry
	if j.Size < drime.MultipartThreshold {
		e, err = u.small(ctx, &n, parent, f, j)
	} else {
		e, err = u.multipart(ctx, it, ab, &n, parent, f, j)
	}
	if err != nil {
		return err
	}
	it.prog.add(j.Size - it.prog.doneBytes())
	// n now holds the folder and name the entry was registered under.
	replaced := n.RemoteID != 0 || len(n.Replaces) > 0
	_, stale, err := u.store.FinishUpload(n.ID, j.Gen, remoteEntry(e), n.Parent, n.Name)
	if err == nil {
		u.forgetAttempt(n.ID) // recorded (or queued for deletion when stale)
	}
	if replaced || stale {
		u.kickJanitor() // entries to delete were queued
	}
	if err != nil {
		return err
	}
	if stale {
		u.log.Debug().Str("file", n.Name).Msg("discarded the upload of an outdated version")
		return errStale
	}
	d := time.Since(start)
	u.opts.Metrics.Uploaded(j.Size, d)
	u.log.Info().Str("file", u.path(n.ID)).Int64("size", j.Size).Dur("took", d).
		Str("rate", rate(j.Size, d)).Msg("uploaded")
	u.announce()
	return nil
}

// small uploads a file below the multipart threshold with POST /uploads.
// An attempt recorded for this very version (before a crash) is looked for
// first, so a restart does not leave a duplicate.
func (u *Uploader) small(ctx context.Context, n *cache.Node, parent int64, f *os.File, j cache.Job) (*drime.Entry, error) {
	exclude := append([]int64(nil), n.Replaces...)
	if n.RemoteID != 0 {
		exclude = append(exclude, n.RemoteID)
	}
	atts, err := u.store.Attempts(n.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range atts {
		if a.FileName != "" || a.Gen != j.Gen || a.Parent != parent || a.Name != n.Name || a.Size != j.Size {
			continue
		}
		if err := u.settle(ctx, a); err != nil {
			return nil, err
		}
		e, err := u.findUpload(ctx, parent, n.Name, j.Size, exclude, "")
		if err != nil {
			return nil, err
		}
		if e != nil {
			u.log.Info().Str("file", n.Name).Msg("found the upload sent before the last stop; not sending it again")
			return e, nil
		}
		break
	}
	a, err := u.store.AddAttempt(cache.Attempt{Node: n.ID, Gen: j.Gen, Name: n.Name, Size: j.Size, Parent: parent, At: time.Now()})
	if err != nil {
		return nil, err
	}
	e, err := u.remote.Upload(ctx, drime.UploadRequest{ParentID: parent, Name: n.Name, Body: f, Size: j.Size, Exclude: exclude})
	u.settled(a, e, err)
	return e, err
}

// settled forgets an attempt whose outcome is known: it succeeded (its
// entry is about to be recorded, or deleted as stale) or was refused
// outright. An attempt that ended in doubt stays for sweepAttempts.
// A successful attempt is forgotten only after its entry is recorded
// (forgetAttempt, after FinishUpload): a crash in between must still find
// it, or the next mount would upload a second copy.
func (u *Uploader) settled(a cache.Attempt, e *drime.Entry, err error) {
	switch {
	case err == nil && e != nil:
		u.mu.Lock()
		u.succeeded[a.Node] = a
		u.mu.Unlock()
	case err != nil && !retryable(err) && !errors.Is(err, context.Canceled):
		if derr := u.store.DropAttempt(a); derr != nil {
			u.log.Warn().Err(derr).Msg("forgetting an upload attempt")
		}
	default:
		u.sweepDue.Store(true)
	}
}

// forgetAttempt drops the attempt whose entry was just recorded.
func (u *Uploader) forgetAttempt(id uint64) {
	u.mu.Lock()
	a, ok := u.succeeded[id]
	delete(u.succeeded, id)
	u.mu.Unlock()
	if !ok {
		return
	}
	if err := u.store.DropAttempt(a); err != nil {
		u.log.Warn().Err(err).Msg("forgetting an upload attempt")
	}
}

// settle waits until an interrupted attempt is old enough that Drime has
// processed it if it ever will, so that looking for its result is
// conclusive.
func (u *Uploader) settle(ctx context.Context, a cache.Attempt) error {
	wait := time.Until(a.At.Add(u.opts.AttemptSettle))
	if wait <= 0 {
		return nil
	}
	u.log.Debug().Str("file", a.Name).Dur("wait", wait).Msg("waiting for an interrupted request to settle before looking for its result")
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// findUpload looks in folder parent for an entry this mount uploaded but
// did not record: not excluded, not known to the tree, of the given size,
// and with the given storage name (multipart) or else the given name.
func (u *Uploader) findUpload(ctx context.Context, parent int64, name string, size int64, exclude []int64, fileName string) (*drime.Entry, error) {
	es, err := u.remote.ListFolder(ctx, parent)
	if err != nil {
		return nil, fmt.Errorf("look for an earlier upload: %w", err)
	}
	var best *drime.Entry
	for i := range es {
		e := &es[i]
		if e.IsDir() || e.Size != size || contains(exclude, e.ID) {
			continue
		}
		if fileName != "" && e.FileName != fileName || fileName == "" && e.Name != name {
			continue
		}
		if _, err := u.store.ByRemote(e.ID); err == nil || u.store.IsDeleted(e.ID) {
			continue
		}
		if best == nil || e.ID > best.ID {
			best = e
		}
	}
	return best, nil
}

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func remoteEntry(e *drime.Entry) cache.RemoteEntry {
	return cache.RemoteEntry{ID: e.ID, Name: e.Name, Dir: e.IsDir(), Size: e.Size, Hash: e.Hash,
		URL: e.URL, Created: e.CreatedAt, Updated: e.UpdatedAt}
}

// retryable says whether an upload error is worth retrying.
func retryable(err error) bool {
	var api *drime.APIError
	switch {
	case drime.IsRetryable(err), errors.Is(err, drime.ErrUnavailable), errors.Is(err, drime.ErrRateLimited),
		errors.Is(err, drime.ErrURLExpired), errors.Is(err, drime.ErrNotFound):
		return true
	case errors.As(err, &api):
		return api.Status >= 500
	case errors.Is(err, os.ErrNotExist):
		return false
	}
	return true
}

// maxFailures bounds consecutive retries: a Drime that is down is waited
// for forever, other errors give up after a while and mark the job failed.
func maxFailures(err error) int {
	if errors.Is(err, drime.ErrUnavailable) || errors.Is(err, drime.ErrRateLimited) {
		return 1 << 30
	}
	return 8
}

// backoff is capped exponential backoff with full jitter, at least the
// server's Retry-After.
func (u *Uploader) backoff(attempt int, err error) time.Duration {
	ceil := u.opts.RetryBase << min(attempt-1, 20)
	if ceil > u.opts.RetryCap || ceil <= 0 {
		ceil = u.opts.RetryCap
	}
	d := time.Duration(rand.Int64N(int64(ceil) + 1))
	var api *drime.APIError
	if errors.As(err, &api) && api.RetryAfter > d {
		d = api.RetryAfter
	}
	return d
}

func cause(err error) string {
	var api *drime.APIError
	switch {
	case errors.As(err, &api):
		return fmt.Sprintf("http_%d", api.Status)
	case errors.Is(err, drime.ErrUnavailable):
		return "network"
	case errors.Is(err, drime.ErrURLExpired):
		return "url_expired"
	}
	return "other"
}

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MB/s", float64(n)/d.Seconds()/1e6)
}

// path is a node's path for log lines and status.
func (u *Uploader) path(id uint64) string {
	p, err := u.store.Path(id)
	if err != nil {
		return fmt.Sprintf("<node %d>", id)
	}
	return p
}
