// Package uploader runs the upload queue of a mount in the background: it
// takes the jobs the cache package records on close, sends each file to
// Drime (POST /uploads below 5 MiB, the multipart flow above), creates
// folders, deletes replaced and removed entries and aborts abandoned
// multipart uploads. It knows nothing of FUSE.
//
// Durable state lives in the cache package: jobs (uploads, folders, place
// jobs for renames), each finished part's ETag, attempts of requests that
// create entries, pending deletions and aborts. This package keeps in
// memory only the schedule (which job runs, retry times, files set aside
// while open for writing) and progress figures, so a crash or kill -9
// loses nothing: the next Start resumes from the store.
//
// Locks. Uploader.mu guards the schedule (items, pause state, wake
// channels); it is never held across a Drime request or a store call that
// may fire the job hook (store.Writers, a leaf lock, is the one store call
// made under it). Folder creation is serialised per folder by folderLocks,
// taken child before parent. abandon.mu is a leaf lock.
package uploader

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/cache/keylock"
	"github.com/drimefs/drimefs/drime"
)

// Remote is what the uploader needs from Drime.
type Remote interface {
	WhoAmI(ctx context.Context) (*drime.User, error)
	ListFolder(ctx context.Context, folderID int64) ([]drime.Entry, error)
	CreateFolder(ctx context.Context, parentID int64, name string) (*drime.Entry, error)
	Upload(ctx context.Context, req drime.UploadRequest) (*drime.Entry, error)
	CreateMultipart(ctx context.Context, req drime.MultipartCreateRequest) (*drime.MultipartUpload, error)
	SignParts(ctx context.Context, up drime.MultipartUpload, parts []int) (map[int]string, error)
	PutPart(ctx context.Context, url string, body io.ReaderAt, size int64) (string, error)
	CompleteMultipart(ctx context.Context, up drime.MultipartUpload, parts []drime.CompletedPart) error
	AbortMultipart(ctx context.Context, up drime.MultipartUpload) error
	UploadedParts(ctx context.Context, up drime.MultipartUpload) ([]drime.UploadedPart, error)
	RegisterEntry(ctx context.Context, req drime.RegisterRequest) (*drime.Entry, error)
	Rename(ctx context.Context, id int64, name string) (*drime.Entry, error)
	Move(ctx context.Context, ids []int64, destID int64) error
	Delete(ctx context.Context, ids []int64, forever bool) error
}

// Options configures an Uploader.
type Options struct {
	Store           *cache.Store
	Remote          Remote
	Logger          zerolog.Logger
	Transfers       int   // files uploaded at once; default 4
	PartConcurrency int   // parts of one file at once; default 4
	PartSize        int64 // default 5 MiB
	DeleteForever   bool  // skip Drime's trash
	RetryBase       time.Duration
	RetryCap        time.Duration
	// AttemptSettle is how long after an interrupted request that creates
	// an entry the uploader waits before deciding it did not arrive: a
	// request sent just before a crash may still be processed by Drime.
	// Default 10s.
	AttemptSettle time.Duration
	Metrics       Metrics // optional
}

// Metrics receives upload figures; every method must be cheap.
type Metrics interface {
	Uploaded(bytes int64, d time.Duration)
	PartBytes(n int64)
	Retry(cause string)
	Failed()
}

// Uploader is the background upload queue of one mount.
type Uploader struct {
	opts   Options
	store  *cache.Store
	remote Remote
	log    zerolog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	items    map[uint64]*item
	paused   string        // why uploads are paused (token rejected), or ""
	changed  chan struct{} // closed and replaced on every schedule change (for waiters)
	kick     chan struct{} // wakes one worker
	janitorC chan struct{}
	started  bool
	urgent   map[uint64]int // nodes someone waits for (fsync=remote): upload even while open
	// succeeded holds the attempt whose request just created a node's
	// entry, until FinishUpload has recorded it.
	succeeded map[uint64]cache.Attempt

	folderLocks keylock.Set
	session     sessionStats
	sweepDue    atomic.Bool // attempts may need sweeping (see sweepAttempts)

	lastActivity atomic.Int64 // unix nanoseconds of the last change through the mount
}

type item struct {
	id        uint64
	job       cache.Job
	running   bool
	abandon   *abandon // set while running
	busy      bool     // its file is open for writing: wait for Touch
	notBefore time.Time
	failures  int
	prog      *progress
}

// New builds an Uploader; Start runs it.
func New(opts Options) *Uploader {
	if opts.Transfers <= 0 {
		opts.Transfers = 4
	}
	if opts.PartConcurrency <= 0 {
		opts.PartConcurrency = 4
	}
	if opts.PartSize <= 0 {
		opts.PartSize = MinPartSize
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = time.Second
	}
	if opts.RetryCap <= 0 {
		opts.RetryCap = 15 * time.Second
	}
	if opts.AttemptSettle <= 0 {
		opts.AttemptSettle = 10 * time.Second
	}
	if opts.Metrics == nil {
		opts.Metrics = nopMetrics{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Uploader{opts: opts, store: opts.Store, remote: opts.Remote, log: opts.Logger,
		ctx: ctx, cancel: cancel, items: map[uint64]*item{}, urgent: map[uint64]int{}, succeeded: map[uint64]cache.Attempt{},
		changed: make(chan struct{}), janitorC: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
}

// Start loads the queue from the store and starts the workers.
func (u *Uploader) Start() error {
	jobs, err := u.store.Jobs()
	if err != nil {
		return err
	}
	u.mu.Lock()
	for _, j := range jobs {
		u.items[j.Node] = &item{id: j.Node, job: j}
	}
	u.started = true
	u.mu.Unlock()
	u.sweepDue.Store(true) // attempts left by an earlier run, if any
	if len(jobs) > 0 {
		u.log.Info().Int("jobs", len(jobs)).Msg("resuming uploads queued before the last stop")
	}
	for i := 0; i < u.opts.Transfers; i++ {
		u.wg.Add(1)
		go u.worker()
	}
	u.wg.Add(2)
	go u.janitor()
	go u.rescan()
	return nil
}

// Stop cancels running uploads and waits for the workers. Everything not
// finished stays queued in the store.
func (u *Uploader) Stop() {
	u.cancel()
	u.mu.Lock()
	u.wakeLocked()
	u.mu.Unlock()
	u.wg.Wait()
}

// Notify is the store's job hook: a job was recorded or replaced.
func (u *Uploader) Notify(j cache.Job) {
	u.mu.Lock()
	defer u.mu.Unlock()
	it := u.items[j.Node]
	if it == nil {
		it = &item{id: j.Node}
		u.items[j.Node] = it
	}
	if it.running && j.Gen != it.job.Gen && it.abandon != nil {
		// The file changed while its upload ran: that upload is stale.
		it.abandon.set()
	}
	it.job = j
	it.notBefore = time.Time{}
	it.failures = 0
	it.busy = false
	u.wakeLocked()
}

// Uploads yield to a busy file system: while changes keep coming through
// the mount (tar x, cp -r, a git checkout), a closed file waits until
// quietGap passes without changes, but never longer than maxHold. The
// foreground gets the CPU and the disk, and files that are renamed or
// deleted right after being written (temporary files) are not uploaded
// for nothing.
const (
	quietGap = 200 * time.Millisecond
	maxHold  = 2 * time.Second
)

// Activity records that a change was made through the mount.
func (u *Uploader) Activity() { u.lastActivity.Store(time.Now().UnixNano()) }

// Touch wakes the scheduler for a node whose writers changed. A running
// upload of a file that was just opened for writing is abandoned (the
// content may change under it) unless someone waits for it to finish.
func (u *Uploader) Touch(id uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if id == 0 { // everything may have changed (unmount)
		for _, it := range u.items {
			it.busy = false
		}
	}
	if it := u.items[id]; it != nil {
		it.busy = false
		if it.running && it.abandon != nil && u.urgent[id] == 0 && u.store.Writers(id) > 0 {
			it.abandon.set()
		}
	}
	u.wakeLocked()
}

// busy reports whether a node must wait for its writers to close.
func (u *Uploader) busy(id uint64) bool {
	if u.store.Writers(id) == 0 {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.urgent[id] == 0
}

// Cancel abandons a running upload of a removed node and forgets its job.
func (u *Uploader) Cancel(id uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if it := u.items[id]; it != nil {
		if it.abandon != nil {
			it.abandon.set()
		}
		if !it.running {
			delete(u.items, id)
		}
	}
	u.wakeLocked()
	u.kickJanitor()
}

func (u *Uploader) wakeLocked() {
	close(u.changed)
	u.changed = make(chan struct{})
	u.kickWorker()
}

func (u *Uploader) kickJanitor() {
	select {
	case u.janitorC <- struct{}{}:
	default:
	}
}

// rescan reloads the queue from the store now and then, a safety net for
// a hook that fired while nobody listened.
func (u *Uploader) rescan() {
	defer u.wg.Done()
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-t.C:
		}
		jobs, err := u.store.Jobs()
		if err != nil {
			continue
		}
		u.mu.Lock()
		for _, j := range jobs {
			if it := u.items[j.Node]; it == nil {
				u.items[j.Node] = &item{id: j.Node, job: j}
			} else if !it.running && it.job.Seq < j.Seq {
				it.job = j
			}
		}
		u.wakeLocked()
		u.mu.Unlock()
	}
}

// next blocks until a job can run and marks it running; nil when stopped.
// A scan costs one pass over the items with no lock but u.mu; only the
// chosen job's writers are checked (a job whose file is open for writing
// is set aside until Touch).
func (u *Uploader) next() *item {
	u.mu.Lock()
	defer u.mu.Unlock()
	for {
		if u.ctx.Err() != nil {
			return nil
		}
		best, more, wakeAt := u.pick(time.Now())
		if best != nil {
			if u.store.Writers(best.id) > 0 && u.urgent[best.id] == 0 {
				best.busy = true
				continue
			}
			best.running = true
			if more {
				u.kickWorker() // another job is ready: wake a second worker
			}
			return best
		}
		u.mu.Unlock()
		var timer *time.Timer
		var tc <-chan time.Time
		if !wakeAt.IsZero() {
			timer = time.NewTimer(time.Until(wakeAt))
			tc = timer.C
		}
		select {
		case <-u.kick:
		case <-tc:
		case <-u.ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		u.mu.Lock()
	}
}

// pick chooses the oldest job that may run now; more says whether another
// one could, wakeAt when a held-back job becomes ready. Holds u.mu.
func (u *Uploader) pick(now time.Time) (best *item, more bool, wakeAt time.Time) {
	if u.paused != "" {
		return nil, false, time.Time{}
	}
	quiet := time.Unix(0, u.lastActivity.Load()).Add(quietGap)
	busyFS := quiet.After(now)
	for _, it := range u.items {
		if it.running || it.job.Failed || it.busy && u.urgent[it.id] == 0 {
			continue
		}
		ready := it.notBefore
		if busyFS && u.urgent[it.id] == 0 {
			if limit := it.job.Queued.Add(maxHold); limit.After(now) {
				ready = laterOf(ready, earlierOf(limit, quiet))
			}
		}
		if ready.After(now) {
			if wakeAt.IsZero() || ready.Before(wakeAt) {
				wakeAt = ready
			}
			continue
		}
		if best != nil {
			more = true
		}
		if best == nil || it.job.Seq < best.job.Seq {
			best = it
		}
	}
	return best, more, wakeAt
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlierOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// kickWorker wakes one waiting worker (a burst of kicks wakes one; the
// worker that gets a job kicks the next if more are ready).
func (u *Uploader) kickWorker() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

func (u *Uploader) worker() {
	defer u.wg.Done()
	for {
		it := u.next()
		if it == nil {
			return
		}
		u.process(it)
	}
}

type nopMetrics struct{}

func (nopMetrics) Uploaded(int64, time.Duration) {}
func (nopMetrics) PartBytes(int64)               {}
func (nopMetrics) Retry(string)                  {}
func (nopMetrics) Failed()                       {}

var errStale = errors.New("upload is stale: the file changed or was removed")

// abandon tells a running upload that its result is no longer wanted. It
// is cooperative, not a context cancellation: a request that creates an
// entry (POST /uploads, complete, register) is never cut off half-way,
// because Drime might create the entry without us learning its id. Only
// part uploads, which are idempotent, are cancelled at once.
type abandon struct {
	flag   atomic.Bool
	mu     sync.Mutex
	cancel context.CancelFunc
}

func (a *abandon) set() {
	a.flag.Store(true)
	a.mu.Lock()
	if a.cancel != nil {
		a.cancel()
	}
	a.mu.Unlock()
}

func (a *abandon) abandoned() bool { return a.flag.Load() }

// partsContext derives the context of the part uploads, cancelled on set.
func (a *abandon) partsContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	a.mu.Lock()
	a.cancel = cancel
	set := a.flag.Load()
	a.mu.Unlock()
	if set {
		cancel()
	}
	return ctx, cancel
}
