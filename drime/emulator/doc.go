// Package emulator is a Drime-compatible HTTP server with on-disk storage and
// scripted faults. Every test and benchmark of drimefs runs against it, so it
// follows the shapes, status codes and quirks of ../../shared/drime-api.md
// (section 12) and never imports the drime client: it decodes requests into
// its own types so that a mistake in one cannot hide in the other.
//
// # What is durable
//
// Everything below lives in Config.DataDir and survives a restart or a
// kill -9 at any moment:
//
//   - meta/snapshot.json and meta/journal-NNNNNN.jsonl: the metadata (file
//     entries, completed objects, open multipart uploads with their parts).
//     The full state is kept in memory; every change is one JSON record
//     appended to the journal with a single write call. Loading replays the
//     journals after the snapshot and ignores a torn last line. The journal
//     is compacted into a new snapshot (temp file, fsync, rename) at startup,
//     when it grows large and on Close.
//   - objects/<uuid>/: the bytes of one stored object, as one blob file
//     (POST /uploads, simple presign) or as the part files of a multipart
//     upload. A completed multipart object is the list of its part files (a
//     manifest); downloads read across them. Files are written under tmp/
//     and renamed into place when complete, before the journal record that
//     names them, so no half file is ever referenced. Unreferenced files are
//     removed at startup.
//   - lock: flocked while a Server uses the dir, so two emulators never
//     share one.
//   - secret: the HMAC key that signs storage URLs, so presigned URLs stay
//     valid across a restart.
//
// Not durable (reset by a restart): tokens added at runtime, faults, quirks,
// statistics, the listing-lag and renamed-folder windows, and the memory of
// finished multipart uploads (used to answer a repeated complete).
//
// # Lock order
//
//  1. Server.compactMu: held while a snapshot is written (never by requests).
//  2. Server.mu (RWMutex): the state, the journal and the quirk windows.
//     Readers (listing, downloads' lookups) take it shared; mutations take it
//     exclusively only for the in-memory change and the journal append, never
//     across the transfer of a request or response body.
//  3. Leaf locks (tokens, quirks, faults, stats): taken last, never held
//     while taking another lock.
package emulator
