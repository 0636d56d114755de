package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

// Time limits of the checkpoints command: listing reads only metadata;
// --verify reads every state file, possibly gigabytes from an object store.
const (
	listTimeout   = time.Minute
	verifyTimeout = time.Hour
)

func (a *app) checkpoints(args []string) int {
	fs := a.newFlagSet("checkpoints", "checkpoints [--verify] LOCATION (a directory, file://, s3://...)")
	verify := fs.Bool("verify", false, "read every state file and check its checksum; exit 1 if a checkpoint that a restore would use is corrupt")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	timeout := listTimeout
	if *verify {
		timeout = verifyTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	st, err := storage.Open(ctx, pos[0])
	if err != nil {
		fmt.Fprintf(a.stderr, "sluice checkpoints: %v\n", err)
		return exitFailed
	}
	defer st.Close()
	list := st.List
	if *verify {
		list = st.ListVerified
	}
	infos, err := list(ctx)
	if err != nil {
		fmt.Fprintf(a.stderr, "sluice checkpoints: %v\n", err)
		return exitFailed
	}
	if len(infos) == 0 {
		fmt.Fprintf(a.stdout, "no checkpoints or savepoints in %s\n", st.Location())
		return exitOK
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTIME\tSIZE\tFILES\tSTATUS\tUSES\tPATH")
	for _, in := range infos {
		t := in.Created
		if t.IsZero() {
			t = in.Modified
		}
		ts := "-"
		if !t.IsZero() {
			ts = t.Local().Format("2006-01-02 15:04:05")
		}
		// The checkpoints whose state files this one reads (incremental
		// checkpoints), e.g. "chk-3,chk-4".
		uses := "-"
		if len(in.Uses) > 0 {
			uses = strings.Join(in.Uses, ",")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", in.ID, in.Kind, ts, humanBytes(in.Size), in.Files, statusOf(in, *verify), uses, in.Path)
	}
	tw.Flush()
	for _, in := range infos {
		if in.Reason != "" {
			fmt.Fprintf(a.stdout, "%s (%s): %s\n", in.Dir, in.Status, in.Reason)
		}
	}
	if !*verify {
		return exitOK
	}
	verdict, bad := restoreVerdict(infos)
	fmt.Fprintln(a.stdout, verdict)
	if bad {
		return exitFailed
	}
	return exitOK
}

// statusOf is the STATUS column: with --verify a complete checkpoint whose
// files were all read and matched is "ok".
func statusOf(in storage.Info, verified bool) string {
	if verified && in.Status == storage.StatusComplete && in.Verified {
		return "ok"
	}
	return in.Status.String()
}

// restoreVerdict says, from a verified listing, what a restore of the
// latest checkpoint would do; bad is true if it would have to skip a
// corrupt checkpoint, finds nothing but corrupt ones, or a savepoint is
// corrupt. Corrupt checkpoints older than the one restored are not bad:
// no restore uses them (and retention deletes them).
func restoreVerdict(infos []storage.Info) (verdict string, bad bool) {
	var lines []string
	var corrupt []string // checkpoints newer than the one restored, newest first
	var restored *storage.Info
	for i := len(infos) - 1; i >= 0 && restored == nil; i-- {
		in := &infos[i]
		switch {
		case in.Kind != storage.KindCheckpoint:
		case in.Status == storage.StatusComplete:
			restored = in
		case in.Status == storage.StatusCorrupt:
			corrupt = append(corrupt, in.Dir)
		case in.Status == storage.StatusUnsupported:
			return fmt.Sprintf("--restore latest would stop at %s: its metadata is of a newer format version; upgrade sluice to restore it", in.Dir), false
		}
	}
	switch {
	case restored != nil && len(corrupt) == 0:
		lines = append(lines, fmt.Sprintf("--restore latest restores %s: every file verified", restored.Dir))
	case restored != nil:
		bad = true
		lines = append(lines, fmt.Sprintf("--restore latest would skip %s (corrupt) and restore %s: an exactly-once sink that committed output after checkpoint %d refuses that, and other sinks deliver that output again; restore a savepoint (--restore PATH) to avoid it",
			strings.Join(corrupt, ", "), restored.Dir, restored.ID))
	case len(corrupt) > 0:
		bad = true
		lines = append(lines, fmt.Sprintf("--restore latest would fail: %s corrupt and no older checkpoint is complete; restore a savepoint (--restore PATH) or start fresh (--fresh)",
			isAre(corrupt)))
	default:
		lines = append(lines, "--restore latest finds no complete checkpoint and starts fresh")
	}
	for _, in := range infos {
		if in.Kind == storage.KindSavepoint && in.Status != storage.StatusComplete {
			bad = bad || in.Status == storage.StatusCorrupt
			lines = append(lines, fmt.Sprintf("savepoint %s is %s: --restore %s would fail", in.Dir, in.Status, in.Path))
		}
	}
	return strings.Join(lines, "\n"), bad
}

// isAre returns "chk-5 is" or "chk-5, chk-4 are".
func isAre(dirs []string) string {
	if len(dirs) == 1 {
		return dirs[0] + " is"
	}
	return strings.Join(dirs, ", ") + " are"
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
