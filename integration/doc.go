// Package integration holds the end-to-end tests of drimefs: real FUSE
// mounts of the real binary (run as a subprocess) against the Drime
// emulator over real HTTP, with content verified by hash on the emulator
// side. It has no non-test code.
package integration
