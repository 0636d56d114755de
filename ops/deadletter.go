package ops

import "github.com/sluicehq/sluice/runtime"

// deadLetterReaders maps the UID of every source operator that has a
// dead-letter output (stream.DeadLetters, a pipeline's dead_letter) to the
// UIDs of the operators that read it. What those read is what the source
// dead-lettered: the runtime counts records per operator, not per output.
// A reader over the network counts only when the dead-letter edge is its
// only input.
func deadLetterReaders(plan *runtime.Plan) map[string][]string {
	out := map[string][]string{}
	for _, v := range plan.Vertices {
		for _, op := range v.Ops {
			for _, c := range op.Chained {
				if c.Port == runtime.DeadLetterTag {
					out[op.UID] = append(out[op.UID], v.Ops[c.To].UID)
				}
			}
			for _, e := range op.Net {
				if e.Port == runtime.DeadLetterTag && len(e.To.Inputs) == 1 {
					out[op.UID] = append(out[op.UID], e.To.Ops[0].UID)
				}
			}
		}
	}
	return out
}

// deadLettered returns the records each source dead-lettered, by UID, from
// the record counts summed over subtasks.
func deadLettered(readers map[string][]string, counts map[string]runtime.OperatorMetrics) map[string]int64 {
	out := make(map[string]int64, len(readers))
	for src, rs := range readers {
		var n int64
		for _, r := range rs {
			n += counts[r].RecordsIn
		}
		out[src] = n
	}
	return out
}
