// Package cache is everything drimefs keeps on local disk for one mount: the
// tree of folders and files, the upload queue, multipart progress, pending
// remote deletions, and the content files (spool and read cache). It does no
// network I/O.
//
// What is durable. A badger database under <dir>/db holds
//
//	n/<id>              Node: a folder or file of the tree (binary record)
//	c/<parent>/<name>   child index: name → id
//	r/<remote id>       remote index: Drime entry id → local id
//	j/<id>              Job: upload the content, create the folder, or
//	                    rename/move the Drime entry to where the node is
//	m/<id>, p/<id>/<n>  multipart progress: upload id and each part's ETag
//	u/<id>/<seq>        Attempt: a request that creates an entry was sent
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
// order is Store.mu → Files.mu. Leaf locks, never held while taking
// another: Store.wmu (writer counts and the job hook), nodeCache.mu (the
// decoded-node cache), spaceGuard.mu (free-space figures). No lock is held
// across network I/O (there is none here) or across callbacks: the job
// hook fires after the transaction, outside Store.mu.
package cache
