package emulator

import (
	"net/http"
	"time"
)

const invalidIDs = "The selected entry ids is invalid."

// POST /file-entries/delete {entryIds, deleteForever, emptyTrash} (also
// DELETE /file-entries). Trash sets deleted_at on the entry and its
// subtree; deleteForever removes them and their bytes. Any unknown,
// already-deleted or backup id fails the whole request with 422.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	var body entriesBody
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	if body.EmptyTrash {
		s.emptyTrash(w, r, workspaceOf(r, body.Workspace))
		return
	}
	if len(body.EntryIDs) == 0 {
		invalid(w, "entryIds", "The entry ids field is required.")
		return
	}
	forever := bool(body.DeleteForever)
	q := s.Quirks()
	now := time.Now()
	s.mu.Lock()
	var roots []*entry
	for _, id := range body.EntryIDs {
		e := s.st.entries[id]
		if e == nil || e.Backup || (!forever && e.trashed()) {
			s.mu.Unlock()
			invalid(w, "entryIds", invalidIDs)
			return
		}
		roots = append(roots, e)
	}
	var rec *record
	var files []string
	if forever {
		rec, files = s.dropLocked(roots, q, now)
	} else {
		rec = &record{}
		done := make(map[int64]bool)
		for _, root := range roots {
			for _, x := range s.st.subtree(root) {
				if done[x.ID] || (x.trashed() && x != root) {
					continue
				}
				done[x.ID] = true
				c := *x
				c.Deleted, c.TrashedBy = now, root.ID
				rec.Entries = append(rec.Entries, &c)
			}
		}
	}
	err := s.commitLocked(rec)
	s.mu.Unlock()
	if err != nil {
		serverError(w, err)
		return
	}
	s.removeFiles(files)
	s.maybeCompact()
	writeJSON(w, http.StatusOK, success(nil))
}

// dropLocked builds the record deleting roots and their subtrees forever,
// and the object dirs to remove once it is committed.
func (s *Server) dropLocked(roots []*entry, q Quirks, now time.Time) (*record, []string) {
	rec := &record{}
	done := make(map[int64]bool)
	var gone []*entry
	lost := make(map[string]int)
	for _, root := range roots {
		for _, x := range s.st.subtree(root) {
			if done[x.ID] {
				continue
			}
			done[x.ID] = true
			rec.Drop = append(rec.Drop, x.ID)
			gone = append(gone, x)
			if x.Object != "" {
				lost[x.Object]++
			}
		}
	}
	var files []string
	for uuid, n := range lost {
		if s.st.refs[uuid] <= n {
			rec.DropObj = append(rec.DropObj, uuid)
			files = append(files, s.dirs.objDir(uuid))
		}
	}
	s.noteGhostsLocked(gone, q, now)
	return rec, files
}

// POST /file-entries/empty-trash {workspaceId}
func (s *Server) handleEmptyTrash(w http.ResponseWriter, r *http.Request) {
	var body entriesBody
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	s.emptyTrash(w, r, workspaceOf(r, body.Workspace))
}

func (s *Server) emptyTrash(w http.ResponseWriter, r *http.Request, ws int64) {
	q := s.Quirks()
	s.mu.Lock()
	var roots []*entry
	for _, e := range s.st.entries {
		if e.Workspace == ws && e.trashed() {
			roots = append(roots, e)
		}
	}
	rec, files := s.dropLocked(roots, q, time.Now())
	err := s.commitLocked(rec)
	s.mu.Unlock()
	if err != nil {
		serverError(w, err)
		return
	}
	s.removeFiles(files)
	s.maybeCompact()
	writeJSON(w, http.StatusOK, success(nil))
}

// POST /file-entries/restore {entryIds}: back to the original folder (the
// root when that folder is gone or still trashed), with the subtree the
// deletion took.
func (s *Server) handleRestore(w http.ResponseWriter, r *http.Request) {
	var body entriesBody
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	if len(body.EntryIDs) == 0 {
		invalid(w, "entryIds", "The entry ids field is required.")
		return
	}
	now := time.Now()
	s.mu.Lock()
	rec := &record{}
	restored := make(map[int64]bool)
	for _, id := range body.EntryIDs {
		e := s.st.entries[id]
		if e == nil || !e.trashed() {
			s.mu.Unlock()
			invalid(w, "entryIds", invalidIDs)
			return
		}
		restored[id] = true
	}
	for _, id := range body.EntryIDs {
		root := s.st.entries[id]
		for _, x := range s.st.subtree(root) {
			if x != root && x.TrashedBy != root.ID {
				continue
			}
			c := *x
			c.Deleted, c.TrashedBy, c.Updated = time.Time{}, 0, now
			if x == root && c.Parent != 0 && s.st.liveFolder(c.Parent) == nil && !restored[c.Parent] {
				c.Parent = 0
			}
			rec.Entries = append(rec.Entries, &c)
		}
	}
	err := s.commitLocked(rec)
	s.mu.Unlock()
	if err != nil {
		serverError(w, err)
		return
	}
	s.maybeCompact()
	writeJSON(w, http.StatusOK, success(nil))
}
