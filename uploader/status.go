package uploader

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/drimefs/drimefs/drime"
)

// progress counts the bytes of one running upload.
type progress struct {
	start time.Time
	total atomic.Int64
	done  atomic.Int64
}

func (p *progress) setTotal(n int64) { p.total.Store(n) }
func (p *progress) add(n int64)      { p.done.Add(n) }
func (p *progress) doneBytes() int64 { return p.done.Load() }

// sessionStats counts what this mount uploaded.
type sessionStats struct {
	files atomic.Int64
	bytes atomic.Int64
}

func (s *sessionStats) done(p *progress) {
	if p != nil {
		s.files.Add(1)
		s.bytes.Add(p.total.Load())
	}
}

// FileStatus is one queued file in Status.
type FileStatus struct {
	Path   string    `json:"path"`
	Size   int64     `json:"size"`
	Done   int64     `json:"done,omitempty"`
	Rate   float64   `json:"rate,omitempty"` // bytes per second
	Reason string    `json:"reason,omitempty"`
	Queued time.Time `json:"queued"`
	Folder bool      `json:"folder,omitempty"`
}

// Status is the queue as `drimefs status` shows it.
type Status struct {
	Paused          string       `json:"paused,omitempty"`
	Pending         []FileStatus `json:"pending"`
	Uploading       []FileStatus `json:"uploading"`
	Failed          []FileStatus `json:"failed"`
	Deletions       int          `json:"deletions"`
	FailedDeletions []string     `json:"failed_deletions,omitempty"`
	PendingBytes    int64        `json:"pending_bytes"`
	UploadedFiles   int64        `json:"uploaded_files"`
	UploadedBytes   int64        `json:"uploaded_bytes"`
}

// Status reports the queue, with each file's path.
func (u *Uploader) Status() (Status, error) { return u.status(true) }

// Counts reports the queue like Status but without resolving paths: cheap
// enough for every metrics scrape.
func (u *Uploader) Counts() (Status, error) { return u.status(false) }

func (u *Uploader) status(paths bool) (Status, error) {
	// Empty lists, not null, in JSON: scripts can take len() of them.
	st := Status{Pending: []FileStatus{}, Uploading: []FileStatus{}, Failed: []FileStatus{}}
	jobs, err := u.store.Jobs()
	if err != nil {
		return st, err
	}
	u.mu.Lock()
	st.Paused = u.paused
	running := map[uint64]*progress{}
	for id, it := range u.items {
		if it.running && it.prog != nil {
			running[id] = it.prog
		}
	}
	u.mu.Unlock()
	for _, j := range jobs {
		fs := FileStatus{Size: j.Size, Queued: j.Queued, Folder: j.Dir}
		if paths {
			fs.Path = u.path(j.Node)
		}
		switch p := running[j.Node]; {
		case j.Failed:
			fs.Reason = j.Reason
			st.Failed = append(st.Failed, fs)
		case p != nil:
			fs.Done = min(p.done.Load(), j.Size)
			if d := time.Since(p.start).Seconds(); d > 0 {
				fs.Rate = float64(fs.Done) / d
			}
			st.Uploading = append(st.Uploading, fs)
			st.PendingBytes += j.Size - fs.Done
		default:
			st.Pending = append(st.Pending, fs)
			st.PendingBytes += j.Size
		}
	}
	ds, err := u.store.Deletions()
	if err != nil {
		return st, err
	}
	for _, d := range ds {
		if d.Failed {
			st.FailedDeletions = append(st.FailedDeletions, fmt.Sprintf("entry %d: %s", d.RemoteID, d.Reason))
		} else {
			st.Deletions++
		}
	}
	sort.Slice(st.Uploading, func(a, b int) bool { return st.Uploading[a].Path < st.Uploading[b].Path })
	st.UploadedFiles, st.UploadedBytes = u.session.files.Load(), u.session.bytes.Load()
	return st, nil
}

// State describes one file for the user.drimefs.state attribute:
// "uploaded", "pending", "uploading 37%", "failed: reason", "paused: …".
func (u *Uploader) State(id uint64) string {
	j, ok, err := u.store.Job(id)
	if err != nil {
		return "unknown"
	}
	if !ok {
		n, err := u.store.Get(id)
		if err != nil {
			return "unknown"
		}
		if n.RemoteID != 0 && n.UploadedGen == n.Gen {
			return "uploaded"
		}
		return "pending"
	}
	if j.Failed {
		return "failed: " + j.Reason
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.paused != "" {
		return "paused: " + u.paused
	}
	if it := u.items[id]; it != nil && it.running && it.prog != nil && j.Size > 0 {
		return fmt.Sprintf("uploading %d%%", min(100, it.prog.done.Load()*100/j.Size))
	}
	return "pending"
}

// announce wakes everyone waiting for uploads to finish.
func (u *Uploader) announce() {
	u.mu.Lock()
	u.wakeLocked()
	u.mu.Unlock()
}

func (u *Uploader) waitChange(ctx context.Context, max time.Duration) error {
	u.mu.Lock()
	ch := u.changed
	u.mu.Unlock()
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// WaitUploaded returns once generation gen (or a newer one) of node id is
// in Drime, or with the reason its upload failed.
func (u *Uploader) WaitUploaded(ctx context.Context, id, gen uint64) error {
	u.mu.Lock()
	u.urgent[id]++
	u.wakeLocked()
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		if u.urgent[id]--; u.urgent[id] <= 0 {
			delete(u.urgent, id)
		}
		u.mu.Unlock()
	}()
	for {
		n, err := u.store.Get(id)
		if err != nil {
			return err
		}
		if n.RemoteID != 0 && n.UploadedGen >= gen {
			return nil
		}
		if j, ok, _ := u.store.Job(id); ok && j.Failed {
			return fmt.Errorf("upload of %s failed: %s", n.Name, j.Reason)
		}
		if p := u.isPaused(); p != "" {
			return fmt.Errorf("uploads paused: %s: %w", p, drime.ErrUnauthorized)
		}
		if err := u.waitChange(ctx, time.Second); err != nil {
			return err
		}
	}
}

// Barrier returns the queue position that a sync started now waits for.
func (u *Uploader) Barrier() uint64 { return u.store.LastSeq() }

// ErrFailed is returned by WaitBarrier when some uploads failed.
var ErrFailed = errors.New("some uploads failed")

// WaitBarrier returns once every job and deletion queued up to seq is done.
// Failed ones are returned (with ErrFailed) instead of waited for.
func (u *Uploader) WaitBarrier(ctx context.Context, seq uint64) ([]FileStatus, error) {
	for {
		pending, failed, err := u.behind(seq)
		if err != nil {
			return nil, err
		}
		if pending == 0 {
			if len(failed) > 0 {
				return failed, ErrFailed
			}
			return nil, nil
		}
		if p := u.isPaused(); p != "" {
			return failed, fmt.Errorf("uploads paused: %s: %w", p, drime.ErrUnauthorized)
		}
		if err := u.waitChange(ctx, 500*time.Millisecond); err != nil {
			return failed, err
		}
	}
}

func (u *Uploader) behind(seq uint64) (int, []FileStatus, error) {
	jobs, err := u.store.Jobs()
	if err != nil {
		return 0, nil, err
	}
	pending := 0
	var failed []FileStatus
	for _, j := range jobs {
		if j.FirstSeq > seq {
			continue
		}
		if j.Failed {
			failed = append(failed, FileStatus{Path: u.path(j.Node), Size: j.Size, Reason: j.Reason})
		} else {
			pending++
		}
	}
	ds, err := u.store.Deletions()
	if err != nil {
		return 0, nil, err
	}
	// Every deletion counts, not only those queued before the barrier: a
	// replaced version or a stale upload is deleted after the upload that
	// replaced it, and until then Drime shows a duplicate.
	for _, d := range ds {
		if d.Failed {
			failed = append(failed, FileStatus{Path: fmt.Sprintf("<deleted entry %d>", d.RemoteID), Reason: d.Reason})
		} else {
			pending++
		}
	}
	return pending, failed, nil
}

// Drain waits until the queue is empty (failed jobs aside), logging
// progress; ctx ends it early (a second signal).
func (u *Uploader) Drain(ctx context.Context) error {
	last := time.Time{}
	for {
		pending, failed, err := u.behind(^uint64(0))
		if err != nil {
			return err
		}
		if pending == 0 {
			if len(failed) > 0 {
				u.log.Warn().Int("failed", len(failed)).Msg("queue drained; some uploads failed and stay in the cache for the next mount")
			}
			return nil
		}
		if time.Since(last) > 3*time.Second {
			st, _ := u.Status()
			u.log.Info().Int("files_left", pending).Int64("bytes_left", st.PendingBytes).Str("paused", u.isPaused()).
				Msg("finishing uploads before exit (interrupt again to exit now; the rest resumes at the next mount)")
			last = time.Now()
		}
		if err := u.waitChange(ctx, time.Second); err != nil {
			return err
		}
	}
}

func (u *Uploader) isPaused() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.paused
}

// pauseLocked stops uploads after Drime rejected the token and starts a
// check that resumes them when the token works again.
func (u *Uploader) pauseLocked(err error) {
	if u.paused != "" {
		return
	}
	u.paused = "Drime rejected the token (401)"
	u.log.Error().Err(err).Msg("Drime rejected the token: uploads are PAUSED and stay queued in the local cache. " +
		"Create a new token in Drime (Account settings → Developers) and remount; nothing written is lost")
	u.wg.Add(1)
	go u.watchToken()
}

func (u *Uploader) watchToken() {
	defer u.wg.Done()
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-time.After(15 * time.Second):
		}
		if u.Resume() {
			return
		}
	}
}

// Resume checks the token and resumes uploads if Drime accepts it again.
func (u *Uploader) Resume() bool {
	if u.isPaused() == "" {
		return true
	}
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	if _, err := u.remote.WhoAmI(ctx); err != nil {
		return false
	}
	u.mu.Lock()
	u.paused = ""
	u.wakeLocked()
	u.mu.Unlock()
	u.kickJanitor()
	u.log.Info().Msg("Drime accepts the token again: uploads resumed")
	return true
}

// RetryFailed requeues failed jobs and deletions.
func (u *Uploader) RetryFailed() (int, error) {
	jobs, err := u.store.RetryFailed()
	if err != nil {
		return 0, err
	}
	u.Resume()
	u.kickJanitor()
	return len(jobs), nil
}
