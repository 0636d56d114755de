// Package s3 links the Amazon S3 driver of checkpoint storage, for
// s3:// locations (and S3-compatible stores: MinIO, Ceph, R2, through
// the endpoint query parameter). Import it for its side effect:
//
//	import _ "github.com/sluicehq/sluice/checkpoint/storage/s3"
//
// A program that keeps checkpoints on local disk does not import it and
// links no AWS SDK. The sluice binary imports it. URL parameters are
// those of gocloud.dev/blob/s3blob, e.g.
// "s3://bucket/jobs/job1?endpoint=http://127.0.0.1:9000&region=us-east-1&use_path_style=true".
package s3

import _ "gocloud.dev/blob/s3blob" // registers s3://
