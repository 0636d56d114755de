// Package leanbuild holds the tests that keep Go programs lean: a program
// that uses the stream API with local checkpoints, or that loads YAML
// pipelines, links no cloud SDK and no client library of a connector it
// does not import (connectors register their YAML types themselves). Object-store drivers are opt-in imports
// (checkpoint/storage/s3, gcs, azure); the sluice binary links them all.
package leanbuild
