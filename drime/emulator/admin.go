package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// Admin routes: no auth, no faults, not counted in Stats.
//
//	GET  /__emulator/faults    current SPEC as text
//	PUT  /__emulator/faults    body = SPEC; empty clears
//	GET  /__emulator/stats     Stats as JSON
//	DELETE /__emulator/stats   reset
//	GET  /__emulator/quirks    Quirks as JSON
//	PUT  /__emulator/quirks    replace all quirks (absent fields = off)
//	POST /__emulator/tokens    {"token":"..","revoke":bool}
//	POST /__emulator/entries   {"parentId":N|null,"name":"..","type":"file|folder","content":"<base64>","workspaceId":N}
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/__emulator")
	switch route {
	case "GET /faults":
		text(w, http.StatusOK, s.FaultSpec())
	case "PUT /faults", "POST /faults":
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = s.SetFaults(strings.TrimSpace(string(b)))
		}
		if err != nil {
			text(w, http.StatusBadRequest, err.Error())
			return
		}
		text(w, http.StatusOK, s.FaultSpec())
	case "GET /stats":
		writeJSON(w, http.StatusOK, s.Stats())
	case "DELETE /stats":
		s.ResetStats()
		writeJSON(w, http.StatusOK, s.Stats())
	case "GET /quirks":
		writeJSON(w, http.StatusOK, s.Quirks())
	case "PUT /quirks", "POST /quirks":
		var q Quirks
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&q); err != nil && err != io.EOF {
			msgError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.SetQuirks(q)
		writeJSON(w, http.StatusOK, s.Quirks())
	case "POST /tokens":
		var body struct {
			Token  string   `json:"token"`
			Revoke flexBool `json:"revoke"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || body.Token == "" {
			msgError(w, http.StatusBadRequest, "want {\"token\":\"..\",\"revoke\":false}")
			return
		}
		if body.Revoke {
			s.RevokeToken(body.Token)
		} else {
			s.AddToken(body.Token)
		}
		writeJSON(w, http.StatusOK, success(nil))
	case "POST /entries":
		s.adminEntry(w, r)
	default:
		msgError(w, http.StatusNotFound, "unknown admin route "+route)
	}
}

func text(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s)
}

// InsertEntry inserts an entry without the API's name checks, so tests can
// produce names like "..", "a/b" or duplicates. parentID 0 is the root of
// workspace ws; content is ignored for folders.
func (s *Server) InsertEntry(ctx context.Context, ws, parentID int64, name, typ string, content []byte) (json.RawMessage, error) {
	now := time.Now()
	e := &entry{Workspace: ws, Parent: parentID, Name: name, Type: "folder", Created: now, Updated: now}
	rec := &record{}
	var uuid string
	if typ != "folder" {
		uuid = newUUID()
		got, err := s.receive(ctx, bytes.NewReader(content), false)
		if err != nil {
			return nil, err
		}
		file := "blob-" + randHex(4)
		if err := s.install(got, uuid, file); err != nil {
			return nil, err
		}
		o := &object{UUID: uuid, Files: []objFile{{Name: file, Size: got.size}}, Size: got.size}
		e.Mime, e.Ext, e.Type = fileMeta(name, "", "")
		e.Size, e.Object = got.size, uuid
		rec.Objects = []*object{o}
	}
	s.mu.Lock()
	if p := s.st.entries[parentID]; parentID != 0 && p != nil {
		e.Workspace = p.Workspace
	}
	e.ID = s.st.allocID()
	rec.Entries = []*entry{e}
	err := s.commitLocked(rec)
	var out []byte
	if err == nil {
		out, err = json.Marshal(s.renderLocked(s.st.entries[e.ID]))
	}
	s.mu.Unlock()
	if err != nil && uuid != "" {
		s.removeFiles([]string{s.dirs.objDir(uuid)})
	}
	return out, err
}

func (s *Server) adminEntry(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ParentID  optInt `json:"parentId"`
		Workspace optInt `json:"workspaceId"`
		Name      string `json:"name"`
		Type      string `json:"type"`
		Content   string `json:"content"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxJSONBody)).Decode(&body); err != nil {
		msgError(w, http.StatusBadRequest, err.Error())
		return
	}
	var content []byte
	if body.Content != "" {
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if content, err = enc.DecodeString(body.Content); err == nil {
				break
			}
		}
		if err != nil {
			msgError(w, http.StatusBadRequest, "content: not base64")
			return
		}
	}
	out, err := s.InsertEntry(r.Context(), body.Workspace.or(0), body.ParentID.or(0), body.Name, body.Type, content)
	if err != nil {
		serverError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}
