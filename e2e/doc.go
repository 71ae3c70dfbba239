// Package e2e tests the real steward binary from the outside: it builds
// it, starts it as a process, and drives it over HTTP and its commands.
package e2e
