// Package file is the file system connector: a source that reads files
// (bounded, or monitoring a directory for new files) and a sink that
// writes part files, both exactly-once with checkpoints.
//
// It sits with the other connectors above the connector contracts and
// knows nothing of the runtime.
//
// # Source
//
// [NewSource] reads a file, or the files of a directory (recursively with
// [Recursive]), decoded by a [Format]: [Lines], [CSV] or
// [JSONLines], or a custom [LineFormat]. Names starting with "." or "_"
// are skipped; files named *.gz are decompressed. Bounded, it reads the
// files present when the job first starts and ends; with
// [Continuous] it lists the directory every interval and reads
// the files that appeared, forever.
//
// Each file is a [Split] whose progress is the byte offset and line number
// of its next record; the split enumerator hands files out one at a time
// to readers that ask for work, so a slow reader holds no more than the
// file it reads. A checkpoint holds the position of every file being
// read, the files not yet handed out and the record of files already
// handed out, which is what makes the source exactly-once. For gzip files
// the offset counts uncompressed bytes: a restore decompresses the file
// from its start and skips to it, which costs time in proportion to the
// offset.
//
// The record of handed-out files stays bounded on jobs that run forever:
// a file is remembered only while it is still listed and its modification
// time is within the late-file tolerance ([LateFileTolerance])
// of the newest file seen; anything older counts as processed. This
// assumes that files do not change once they are visible, and that a new
// file is not older than the newest seen minus the tolerance.
//
// A record that does not decode is a bad record: it goes to the job's
// dead-letter output (stream.DeadLetters) with its location "path:line",
// or, without one, fails the job naming that location.
//
// # Sink
//
// [NewSink] writes records into part files under a directory, in buckets
// (subdirectories) chosen by a [BucketAssigner]: none, by processing or
// event time, or by a field. Part files are written hidden, rolled by a
// [RollingPolicy], pre-committed at checkpoints (flushed and fsynced) and
// made visible by a rename when the checkpoint completes: readers only see
// finished files. Encoders: [TextEncoder], [JSONLinesEncoder],
// [CSVEncoder], a custom [RowEncoder], or Parquet (package fileparquet).
//
// Row encoders are resumable: an in-progress file may span checkpoints,
// each checkpoint recording its name and fsynced length; a restore
// truncates it to that length, which discards what was written after the
// checkpoint, and goes on appending. Files that roll become committables
// of the next checkpoint; committing is an idempotent rename.
//
// After a failure, the in-progress files a failed attempt wrote after its
// last checkpoint are referred to by no checkpoint: they are never
// renamed, so never visible. After a restore at unchanged parallelism,
// each writer deletes those of its subtask once the first checkpoint of
// the new attempt completes (it then knows every hidden file of its
// subtask that is still needed). After a rescale they stay, hidden, and
// may be deleted by hand once the job runs at its new parallelism and has
// completed a checkpoint: except the current in-progress files, which have
// been modified recently.
package file
