// Package cache is everything drimefs keeps on local disk for one mount: the
// tree of folders and files, the upload queue, multipart progress, pending
// remote deletions, and the content files (spool and read cache). It does no
// network I/O.
//
// What is durable. A badger database under <dir>/db holds
//
//	n/<id>              Node: a folder or file of the tree
//	c/<parent>/<name>   child index: name → id
//	r/<remote id>       remote index: Drime entry id → local id
//	j/<id>              Job: the node's content (or folder) must reach Drime
//	m/<id>, p/<id>/<n>  multipart progress: upload id and each part's ETag
//	d/<remote id>       a Drime entry to delete; t/<remote id> a tombstone
//	a/<upload id>       a multipart upload to abort
//	x/<id>              read-cache extents of a clean file
//
// and <dir>/files/<id> holds each file's local content: the spool while the
// file is dirty, the read cache once it is clean. Commits are not synced one
// by one: badger's write-ahead log is memory-mapped, so a crash or kill -9 of
// the process loses nothing that was committed; Sync (fsync of the log)
// makes it survive power loss.
//
// Locks. Store.mu serialises every read-modify-write transaction of the
// tree and queue; Files.mu guards the in-memory read-cache accounting; the
// order is Store.mu → Files.mu. Store.wmu guards the in-memory writer counts
// and is never held while taking another lock. No lock is held across
// network I/O (there is none here) or across callbacks.
package cache
