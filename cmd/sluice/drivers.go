package main

// The sluice binary opens checkpoint locations on every object store it
// knows; Go programs link only the drivers they import.
import (
	_ "github.com/sluicehq/sluice/checkpoint/storage/azure"
	_ "github.com/sluicehq/sluice/checkpoint/storage/gcs"
	_ "github.com/sluicehq/sluice/checkpoint/storage/s3"
)
