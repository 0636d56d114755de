// Package reference holds straightforward batch implementations of the
// Nexmark queries over a slice of events, written from the queries'
// definitions: the tests of package nexmark and nexmark/baseline compare
// their results with these. They favour obviousness over speed.
package reference
