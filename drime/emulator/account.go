package emulator

import (
	"net/http"
)

// The emulator has one account; every accepted token belongs to it.

// createdAt is when the emulator's account and workspace "were made".
const createdAt = "2025-01-01T00:00:00.000000Z"

func accountJSON() map[string]any {
	return map[string]any{
		"id":           userID,
		"email":        userEmail,
		"display_name": userName,
		"first_name":   userName,
		"last_name":    nil,
		"avatar":       "",
		"created_at":   createdAt,
		"updated_at":   createdAt,
	}
}

// GET /cli/loggedUser
func (s *Server) handleLoggedUser(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"user": accountJSON()})
}

// GET /me/workspaces: one team workspace (id 1); the personal space (0) is
// implicit and not listed, as in production.
func (s *Server) handleWorkspaces(w http.ResponseWriter, r *http.Request) {
	owner := accountJSON()
	ws := map[string]any{
		"id":            1,
		"name":          "emulator",
		"avatar":        nil,
		"owner_id":      userID,
		"created_at":    createdAt,
		"updated_at":    createdAt,
		"members_count": 1,
		"currentUser": map[string]any{
			"id": userID, "email": userEmail, "display_name": userName,
			"role_name": "Workspace Owner", "role_id": 3, "is_owner": true,
			"joined_at": "2025-01-01 00:00:00",
		},
		"owner": owner,
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspaces": []any{ws}, "status": "success", "seo": nil})
}

// GET /user/space-usage?workspaceId=W: used = sum of non-trashed file sizes;
// available = the plan size (Config.QuotaBytes).
func (s *Server) handleSpaceUsage(w http.ResponseWriter, r *http.Request) {
	ws := workspaceOf(r, optInt{})
	s.mu.RLock()
	used := s.st.usedBytes(ws)
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"used": used, "available": s.cfg.QuotaBytes, "status": "success", "seo": nil})
}
