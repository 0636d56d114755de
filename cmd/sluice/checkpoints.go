package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

func (a *app) checkpoints(args []string) int {
	fs := a.newFlagSet("checkpoints", "checkpoints LOCATION (a directory, file://, s3://...)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := storage.Open(ctx, pos[0])
	if err != nil {
		fmt.Fprintf(a.stderr, "sluice checkpoints: %v\n", err)
		return exitFailed
	}
	defer st.Close()
	infos, err := st.List(ctx)
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
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", in.ID, in.Kind, ts, humanBytes(in.Size), in.Files, in.Status, uses, in.Path)
	}
	tw.Flush()
	for _, in := range infos {
		if in.Reason != "" {
			fmt.Fprintf(a.stdout, "%s (%s): %s\n", in.Dir, in.Status, in.Reason)
		}
	}
	return exitOK
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
