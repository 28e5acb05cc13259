// Package drime is the HTTP client for the Drime Cloud API: the one place
// where drimefs speaks HTTP to Drime (see ../../shared/drime-api.md for the
// API and its quirks).
//
// Durable state: none. The client keeps nothing but its configuration and
// an HTTP connection pool; progress of uploads is the uploader's to record.
//
// Locks: none held across calls (none at all: a Client is immutable after
// New). A Client is safe for concurrent use.
//
// Retries (retry.go, the one policy): 429, 500, 502, 503, 504, 509, 520–524
// and transport errors are retried with capped exponential backoff and full
// jitter, sleep = rand(0, min(Cap, Base·2^attempt)), or the server's
// Retry-After when longer; ctx cancellation ends a wait at once. Other 4xx
// are returned at once as *APIError, mapped to the Err* sentinels.
// Idempotent calls retry directly. The non-idempotent ones never act twice
// on a lost answer: after an ambiguous failure (transport error or 5xx)
// Upload, RegisterEntry, CreateFolder and Move list the folder concerned
// and adopt the earlier attempt's result when it is there before sending
// again; CompleteMultipart treats "no such upload" on such a retry as done.
//
// Security: the bearer token goes only to the API origin. Presigned storage
// URLs and redirect targets never see it (CheckRedirect strips it on every
// redirect), and neither the token nor any URL query string (presigned
// signatures) appears in an error or a log line.
package drime
