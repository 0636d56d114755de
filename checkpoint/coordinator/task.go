package coordinator

import (
	"cmp"
	"strconv"
)

// TaskID names one subtask: a vertex of the job graph and the index of the
// subtask within it. TaskIDs are comparable and may be used as map keys.
type TaskID struct {
	Vertex  int
	Subtask int
}

// String returns "(vertex,subtask)", for example "(1,0)".
func (t TaskID) String() string {
	return "(" + strconv.Itoa(t.Vertex) + "," + strconv.Itoa(t.Subtask) + ")"
}

// compareTasks orders TaskIDs by vertex, then subtask.
func compareTasks(a, b TaskID) int {
	if c := cmp.Compare(a.Vertex, b.Vertex); c != 0 {
		return c
	}
	return cmp.Compare(a.Subtask, b.Subtask)
}
