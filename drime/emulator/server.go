package emulator

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Config configures a Server.
type Config struct {
	DataDir      string         // state and blobs persist here; survives restart
	Tokens       []string       // accepted bearer tokens
	Faults       string         // initial fault SPEC (see ParseFaults)
	Logger       zerolog.Logger // request log at debug level; never tokens or query strings
	PartURLTTL   time.Duration  // lifetime of presigned storage URLs; default 1h
	QuotaBytes   int64          // "available" in space-usage; default 1 TiB
	Seed         int64          // fault RNG seed; 0 = time-based
	FsyncJournal bool           // fsync every journal append and blob (power-loss safety; slow)
}

// errClosed is returned by mutations after Close.
var errClosed = errors.New("emulator closed")

// Server is the emulator: an http.Handler serving /api/v1/, the storage
// endpoint /_storage/ and the admin endpoints /__emulator/.
type Server struct {
	cfg    Config
	log    zerolog.Logger
	dirs   layout
	secret []byte
	lock   *os.File // flock on the data dir

	compactMu sync.Mutex
	mu        sync.RWMutex
	st        *state
	j         *journal
	closed    bool
	isClosed  atomic.Bool
	renamed   map[int64]time.Time // folder id → renamed at (renamedFolderEmpty)
	ghosts    map[int64]ghost     // deleted forever, still listed (listingLag)
	compactAt int64               // journal size that triggers a compaction

	tokens tokenSet
	quirks quirkBox
	faults faultSet
	stats  statsCounter
	rate   rateWindow
	api    *http.ServeMux
}

// New opens (or creates) the data dir, loads the persisted state and returns
// a ready Server.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("emulator: DataDir is required")
	}
	if cfg.PartURLTTL == 0 {
		cfg.PartURLTTL = time.Hour
	}
	if cfg.QuotaBytes == 0 {
		cfg.QuotaBytes = 1 << 40
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		dirs:    layout{root: cfg.DataDir},
		renamed: make(map[int64]time.Time),
		ghosts:  make(map[int64]ghost),

		compactAt: compactAfter,
	}
	s.faults.init(cfg.Seed)
	if err := s.SetFaults(cfg.Faults); err != nil {
		return nil, err
	}
	s.tokens.init(cfg.Tokens)
	s.stats.init()
	if err := s.open(); err != nil {
		if s.j != nil {
			_ = s.j.close()
		}
		if s.lock != nil {
			_ = s.lock.Close()
		}
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s.api = s.routes()
	return s, nil
}

// open prepares the data dir, loads the state and starts a fresh journal.
func (s *Server) open() error {
	for _, d := range []string{s.dirs.root, s.dirs.meta(), s.dirs.objects(), s.dirs.tmp()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(s.dirs.root, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open lock file: %w", err)
	}
	s.lock = lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("data dir %s is in use by another emulator: %w", s.dirs.root, err)
	}
	if s.secret, err = loadSecret(s.dirs.root); err != nil {
		return err
	}
	if err := s.dirs.cleanTmp(); err != nil {
		return err
	}
	st, gen, err := loadState(s.dirs.meta())
	if err != nil {
		return err
	}
	s.st = st
	s.j = &journal{dir: s.dirs.meta(), fsync: s.cfg.FsyncJournal}
	if err := s.j.open(gen + 1); err != nil {
		return err
	}
	b, err := encodeSnapshot(st, gen+1)
	if err != nil {
		return err
	}
	if err := writeSnapshot(s.dirs.meta(), b, gen+1); err != nil {
		return err
	}
	s.dirs.collectGarbage(st, s.log)
	return nil
}

// Close writes a final snapshot and closes the journal; later requests are
// answered 503.
func (s *Server) Close() error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.isClosed.Store(true)
	gen := s.j.gen + 1
	b, err := encodeSnapshot(s.st, gen)
	if err == nil {
		err = s.j.open(gen)
	}
	if err == nil {
		err = writeSnapshot(s.dirs.meta(), b, gen)
	}
	err = errors.Join(err, s.j.close())
	s.mu.Unlock()
	return errors.Join(err, s.lock.Close())
}

// commitLocked appends rec to the journal and applies it. The caller holds
// s.mu exclusively.
func (s *Server) commitLocked(rec *record) error {
	if s.closed {
		return errClosed
	}
	if err := s.j.append(rec); err != nil {
		return err
	}
	s.st.apply(rec)
	return nil
}

// maybeCompact rewrites the snapshot when the journal has grown large. The
// snapshot is encoded under the lock and written outside it; records
// appended meanwhile go to the next journal, which loading replays too.
func (s *Server) maybeCompact() {
	if s.j.size.Load() < s.compactAt || !s.compactMu.TryLock() {
		return
	}
	defer s.compactMu.Unlock()
	s.mu.Lock()
	if s.closed || s.j.size.Load() < s.compactAt {
		s.mu.Unlock()
		return
	}
	gen := s.j.gen + 1
	b, err := encodeSnapshot(s.st, gen)
	if err == nil {
		err = s.j.open(gen)
	}
	s.mu.Unlock()
	if err == nil {
		err = writeSnapshot(s.dirs.meta(), b, gen)
	}
	if err != nil {
		s.log.Error().Err(err).Msg("emulator: compact journal")
	}
}

// ServeHTTP routes a request to the API, the storage endpoint or the admin
// endpoints, and logs it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &respWriter{ResponseWriter: w}
	op := ""
	defer func() {
		s.log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Str("op", op).
			Int("status", rw.status).Bool("cut", rw.hijacked).Dur("duration", time.Since(start)).Msg("emulator request")
	}()
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/__emulator/"):
		op = "admin"
		s.serveAdmin(rw, r)
	case s.isClosed.Load():
		msgError(rw, http.StatusServiceUnavailable, "The emulator is shut down.")
	case strings.HasPrefix(path, storagePrefix):
		op = storageOp(r.Method)
		s.stats.request(op)
		s.withFaults(rw, r, op, s.serveStorage)
	case strings.HasPrefix(path, apiPrefix):
		op = apiOp(r.Method, strings.TrimPrefix(path, apiPrefix))
		s.stats.request(op)
		s.rate.headers(rw.Header())
		s.withFaults(rw, r, op, s.serveAPI)
	default:
		msgError(rw, http.StatusNotFound, "Not Found")
	}
}

// serveAPI checks the bearer token and dispatches to the route.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if !s.tokens.valid(bearer(r)) {
		if r.URL.Path == apiPrefix+"cli/loggedUser" && s.Quirks().LoggedUserNull {
			writeJSON(w, http.StatusOK, map[string]any{"user": nil})
			return
		}
		msgError(w, http.StatusUnauthorized, "Unauthenticated.")
		return
	}
	s.api.ServeHTTP(w, r)
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// AddToken makes t an accepted bearer token.
func (s *Server) AddToken(t string) { s.tokens.add(t) }

// RevokeToken stops accepting t.
func (s *Server) RevokeToken(t string) { s.tokens.revoke(t) }

// tokenSet is the set of accepted tokens (a leaf lock).
type tokenSet struct {
	mu sync.RWMutex
	m  map[string]bool
}

func (t *tokenSet) init(ts []string) {
	t.m = make(map[string]bool, len(ts))
	for _, x := range ts {
		t.m[x] = true
	}
}

func (t *tokenSet) add(x string) {
	t.mu.Lock()
	t.m[x] = true
	t.mu.Unlock()
}

func (t *tokenSet) revoke(x string) {
	t.mu.Lock()
	delete(t.m, x)
	t.mu.Unlock()
}

func (t *tokenSet) valid(x string) bool {
	if x == "" {
		return false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[x]
}
