package uploader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/drime"
)

// signBatch is how many part URLs are signed per request; URLs are signed
// just before use so they do not expire while waiting.
const signBatch = 8

// multipart sends a file with Drime's S3 multipart flow, resuming an
// upload recorded in the store: create → sign → PUT parts (each ETag
// committed as it finishes) → complete → register under the file's
// current folder and name.
func (u *Uploader) multipart(ctx context.Context, it *item, ab *abandon, n *cache.Node, parent int64, f *os.File, j cache.Job) (*drime.Entry, error) {
	partSize := PartSize(j.Size, u.opts.PartSize)
	mp, found, err := u.store.Multipart(n.ID)
	if err != nil {
		return nil, err
	}
	if found && (mp.Gen != j.Gen || mp.Size != j.Size || mp.PartSize != partSize) {
		if err := u.store.DropMultipart(n.ID, true); err != nil {
			return nil, err
		}
		found = false
		u.kickJanitor()
	}
	done := map[int]string{}
	if found && !mp.Completed {
		done, found, err = u.confirmParts(ctx, n.ID, mp)
		if err != nil {
			return nil, err
		}
	}
	resumed := found
	if !found {
		done = map[int]string{}
		up, err := u.remote.CreateMultipart(ctx, drime.MultipartCreateRequest{Name: n.Name, Size: j.Size, ParentID: parent})
		if err != nil {
			return nil, fmt.Errorf("create multipart upload: %w", err)
		}
		mp = cache.Multipart{Gen: j.Gen, Key: up.Key, UploadID: up.UploadID, PartSize: partSize, Size: j.Size}
		if err := u.store.StartMultipart(n.ID, mp); err != nil {
			return nil, err
		}
	} else if len(done) > 0 || mp.Completed {
		u.log.Info().Str("file", n.Name).Int("parts_done", len(done)).Bool("completed", mp.Completed).
			Msg("resuming multipart upload")
	}
	up := drime.MultipartUpload{Key: mp.Key, UploadID: mp.UploadID}
	if !mp.Completed {
		plan := Plan(j.Size, partSize)
		for _, p := range plan {
			if _, ok := done[p.Number]; ok {
				it.prog.add(p.Size)
			}
		}
		if err := u.putParts(ctx, it, ab, n.ID, j.Gen, up, f, plan, done); err != nil {
			if ab.abandoned() {
				return nil, errStale
			}
			return nil, err
		}
		if ab.abandoned() {
			return nil, errStale
		}
		parts := make([]drime.CompletedPart, 0, len(done))
		for num, etag := range done {
			parts = append(parts, drime.CompletedPart{Number: num, ETag: etag})
		}
		sort.Slice(parts, func(a, b int) bool { return parts[a].Number < parts[b].Number })
		if err := u.remote.CompleteMultipart(ctx, up, parts); err != nil {
			if errors.Is(err, drime.ErrNotFound) {
				_ = u.store.DropMultipart(n.ID, false)
			}
			return nil, fmt.Errorf("complete multipart upload: %w", err)
		}
		if err := u.store.MarkCompleted(n.ID, up.UploadID); err != nil {
			return nil, err
		}
	}
	if ab.abandoned() {
		return nil, errStale
	}
	return u.register(ctx, n, j, up, resumed)
}

// confirmParts asks Drime which parts of a recorded upload it has and keeps
// those whose ETag matches what was committed. found is false when Drime no
// longer knows the upload (start over).
func (u *Uploader) confirmParts(ctx context.Context, id uint64, mp cache.Multipart) (map[int]string, bool, error) {
	up := drime.MultipartUpload{Key: mp.Key, UploadID: mp.UploadID}
	parts, err := u.remote.UploadedParts(ctx, up)
	if errors.Is(err, drime.ErrNotFound) {
		u.log.Info().Uint64("node", id).Msg("Drime no longer knows the multipart upload; starting over")
		return nil, false, u.store.DropMultipart(id, false)
	}
	if err != nil {
		return nil, false, fmt.Errorf("list uploaded parts: %w", err)
	}
	done := map[int]string{}
	for _, p := range parts {
		if etag, ok := mp.Parts[p.Number]; ok && unquote(etag) == unquote(p.ETag) {
			done[p.Number] = etag
		}
	}
	return done, true, nil
}

func unquote(s string) string { return strings.Trim(s, `"`) }

// putParts uploads the parts not in done with PartConcurrency workers,
// reading each straight from the spool, committing each ETag to the store.
func (u *Uploader) putParts(ctx context.Context, it *item, ab *abandon, id, gen uint64, up drime.MultipartUpload, f *os.File, plan []Part, done map[int]string) error {
	var todo []Part
	for _, p := range plan {
		if _, ok := done[p.Number]; !ok {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	ctx, cancel := ab.partsContext(ctx)
	defer cancel()
	type signed struct {
		part Part
		url  string
	}
	work := make(chan signed)
	var (
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	var wg sync.WaitGroup
	for w := 0; w < u.opts.PartConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				etag, err := u.putPart(ctx, up, f, s.part, s.url)
				if err != nil {
					fail(fmt.Errorf("part %d: %w", s.part.Number, err))
					continue
				}
				if err := u.store.SavePart(id, up.UploadID, s.part.Number, etag); err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				done[s.part.Number] = etag
				mu.Unlock()
				it.prog.add(s.part.Size)
				u.opts.Metrics.PartBytes(s.part.Size)
				if n, err := u.store.Get(id); err != nil || n.Gen != gen {
					fail(errStale)
				}
			}
		}()
	}
	for i := 0; i < len(todo) && ctx.Err() == nil; i += signBatch {
		batch := todo[i:min(i+signBatch, len(todo))]
		nums := make([]int, len(batch))
		for k, p := range batch {
			nums[k] = p.Number
		}
		urls, err := u.remote.SignParts(ctx, up, nums)
		if err != nil {
			fail(fmt.Errorf("sign part URLs: %w", err))
			break
		}
		for _, p := range batch {
			select {
			case work <- signed{p, urls[p.Number]}:
			case <-ctx.Done():
			}
		}
	}
	close(work)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// putPart sends one part, re-signing its URL when storage refuses it.
func (u *Uploader) putPart(ctx context.Context, up drime.MultipartUpload, f *os.File, p Part, url string) (string, error) {
	for attempt := 0; ; attempt++ {
		if url == "" {
			urls, err := u.remote.SignParts(ctx, up, []int{p.Number})
			if err != nil {
				return "", err
			}
			url = urls[p.Number]
			if url == "" {
				return "", fmt.Errorf("no URL signed for part %d", p.Number)
			}
		}
		etag, err := u.remote.PutPart(ctx, url, io.NewSectionReader(f, p.Offset, p.Size), p.Size)
		if errors.Is(err, drime.ErrURLExpired) && attempt < 3 {
			u.opts.Metrics.Retry("url_expired")
			url = ""
			continue
		}
		return etag, err
	}
}

// localFolder maps a Drime folder id to the local folder id (fallback when
// the folder is not known).
func (u *Uploader) localFolder(rid int64, fallback uint64) uint64 {
	if rid == 0 {
		return cache.RootID
	}
	if f, err := u.store.ByRemote(rid); err == nil {
		return f.ID
	}
	return fallback
}

// register creates the Drime entry for a completed upload in the file's
// current folder. After a restart it first looks for an entry registered
// before the crash (its storage name is the key's UUID).
func (u *Uploader) register(ctx context.Context, n *cache.Node, j cache.Job, up drime.MultipartUpload, resumed bool) (*drime.Entry, error) {
	cur, err := u.store.Get(n.ID)
	if err != nil {
		return nil, errGone
	}
	if cur.Gen != j.Gen {
		return nil, errStale
	}
	parent, err := u.EnsureFolder(ctx, cur.Parent)
	if err != nil {
		return nil, err
	}
	uuid := path.Base(up.Key)
	atts, err := u.store.Attempts(n.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range atts {
		if a.FileName != uuid {
			continue
		}
		// Registered before a crash? Look where it was sent, by storage
		// name (the file may have been renamed since).
		if err := u.settle(ctx, a); err != nil {
			return nil, err
		}
		e, err := u.findUpload(ctx, a.Parent, "", j.Size, nil, uuid)
		if err != nil {
			return nil, err
		}
		if e != nil {
			*n = cur
			n.Parent, n.Name = u.localFolder(a.Parent, cur.Parent), e.Name
			return e, nil
		}
		break
	}
	if resumed {
		e, err := u.findUpload(ctx, parent, cur.Name, j.Size, nil, uuid)
		if err != nil {
			return nil, err
		}
		if e != nil {
			*n = cur
			return e, nil
		}
	}
	a, err := u.store.AddAttempt(cache.Attempt{Node: n.ID, Gen: j.Gen, Name: cur.Name, Size: j.Size, Parent: parent,
		At: time.Now(), FileName: uuid})
	if err != nil {
		return nil, err
	}
	e, err := u.remote.RegisterEntry(ctx, drime.RegisterRequest{Key: up.Key, Size: j.Size, Name: cur.Name, ParentID: parent})
	u.settled(a, e, err)
	if err != nil {
		return nil, fmt.Errorf("register entry: %w", err)
	}
	*n = cur
	return e, nil
}
