// Package gcs links the Google Cloud Storage driver of checkpoint
// storage, for gs:// locations. Import it for its side effect:
//
//	import _ "github.com/sluicehq/sluice/checkpoint/storage/gcs"
//
// A program that keeps checkpoints on local disk does not import it and
// links no Google Cloud SDK. The sluice binary imports it. Credentials
// and URL parameters are those of gocloud.dev/blob/gcsblob
// (Application Default Credentials), e.g. "gs://bucket/jobs/job1".
package gcs

import _ "gocloud.dev/blob/gcsblob" // registers gs://
