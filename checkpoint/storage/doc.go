// Package storage keeps a sluice job's checkpoints and savepoints durable and
// finds them again.
//
// It sits in the checkpoint layer, below the checkpoint coordinator and the
// runtime and above the file system or object store: the runtime writes each
// checkpoint's state files and metadata through it, restores the latest
// complete checkpoint whose files verify with [Storage.LatestVerified],
// loads savepoints with [Storage.Load] and checks them with
// [Storage.Verify], shows checkpoints to the CLI with [Storage.List] and
// applies retention with [Storage.Retain]. The content of state files and
// the runtime's metadata payload are opaque bytes here.
//
// # Locations
//
// A [Storage] is one job's directory, opened from a location string (see
// [Open]): a plain path or a file:// URL selects the local backend, which
// does every file operation through an [FS]; any other URL is opened as a
// gocloud.dev/blob bucket. mem:// is linked in; the cloud drivers are opt-in
// blank imports, so that a program with local checkpoints links no cloud
// SDK: checkpoint/storage/s3 (s3://), checkpoint/storage/gcs (gs://) and
// checkpoint/storage/azure (azblob://). Opening a location whose driver is
// not linked in says which package to import. Programs may also link other
// gocloud.dev drivers, or hand a bucket to [OpenBucket].
//
// # Layout
//
//	<job>/chk-<n>/                    one checkpoint, n in decimal without padding
//	<job>/savepoint-<n>-<6 hex>/      one savepoint, the suffix random
//	<job>/<dir>/<state files>         named by the runtime
//	<job>/<dir>/_metadata             written last and atomically
//
// A checkpoint is complete if and only if its _metadata exists and validates.
// _metadata (see [EncodeMetadata]) records the id, kind, creation time, the
// runtime's payload, every state file's size and CRC-32C and the checkpoints
// it uses, and is itself protected by a CRC-32C.
//
// # Incremental checkpoints
//
// A checkpoint may read state files stored in the directories of earlier
// checkpoints of the same location: chk-5 may use chk-3 and chk-4. The
// runtime declares that with [Pending.Use]; Commit checks that the used
// checkpoints are complete and records their directory names in _metadata
// (format version 2; a checkpoint that uses none is written in version 1).
// [Checkpoint.Uses] and [Info.Uses] list them, and [Storage.LoadUsed] opens
// a used checkpoint next to the one that uses it, wherever that was loaded
// from, so that its files are read and verified through [Storage.OpenFile].
// Savepoints are self-contained and use no other checkpoint.
//
// # Retention
//
// [Storage.Retain] keeps the newest n complete checkpoints, every savepoint
// and every checkpoint used, directly or through others, by a kept
// checkpoint or by a checkpoint pending in the Storage, whatever its age.
// It deletes the other checkpoints older than the newest n, and the other
// partial and corrupt ones older than the newest complete checkpoint. A
// used directory is never deleted, even when partial or corrupt: Retain
// logs a warning naming the checkpoint that uses it, whose restore will
// fail.
//
// An interrupted deletion leaves nothing that looks like a checkpoint. On
// the local backend Retain renames the directory to a hidden name
// (.deleting-chk-<n>), which no listing shows, makes the rename durable and
// then deletes it; every Retain first deletes what such renames left, so a
// crashed process's leftovers go at the first Retain after the restart. On
// object stores, which cannot rename, _metadata is deleted first: an
// interruption leaves a partial directory older than the newest complete
// checkpoint, which Latest never restores, [Storage.List] describes as
// never restored, and the next Retain deletes.
//
// # Durability
//
// On the local backend every state file is fsynced when its [FileWriter] is
// closed. [Pending.Commit] then fsyncs the checkpoint directory (so every
// state file's name is durable), writes _metadata to a temporary name,
// fsyncs it, renames it into place and fsyncs the directory again. Creating a
// checkpoint directory fsyncs its parent. On object stores a single object
// write is atomic; _metadata is written after every state file's upload
// completed.
//
// # Validation
//
// [Storage.Latest], [Storage.List] and [Storage.Retain] check that
// _metadata decodes and that every state file it lists exists with the
// recorded size; they do not read state files. Latest skips partial and
// corrupt checkpoints (logging and reporting each) but stops with an error
// on an I/O error or on metadata of a newer format version, so that a
// transient failure never makes the runtime restore an older checkpoint
// than it should. Latest does not look at the checkpoints the one it
// returns uses: [Storage.LoadUsed] validates each when the runtime opens
// it, and reports a missing, partial or corrupt one as ErrCorrupt.
//
// The CRC-32C of a state file is checked whenever it is read to the end
// through [Storage.OpenFile]. [Storage.Verify] does that for every state
// file of a checkpoint and of the checkpoints it uses, before any state is
// used; [Storage.LatestVerified] verifies each checkpoint it would return
// and falls back past corrupt ones, and [Storage.ListVerified] verifies
// every complete checkpoint and savepoint (sluice checkpoints --verify).
// A bit flip that leaves a file's size alone is found only by reading it.
//
// # Concurrency
//
// A Storage and its Pendings are safe for concurrent use. Several checkpoints
// may be pending at once, and the FileWriters of one Pending may be written
// from different goroutines (each FileWriter by one goroutine at a time).
// Lock order: fileWriter.mu is never held while taking another lock;
// Pending.mu may be held while taking Storage.mu; Storage.mu is never held
// while taking another lock.
package storage
