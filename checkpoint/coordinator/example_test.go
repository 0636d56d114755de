package coordinator_test

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
)

// A driver in miniature: every subtask acknowledges at once and storage
// never fails. A real runtime does the same from its event loop, with the
// acknowledgements coming from its subtasks and a timer for NextDeadline.
func Example() {
	tasks := []coordinator.TaskID{{Vertex: 0, Subtask: 0}, {Vertex: 1, Subtask: 0}}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := coordinator.New(coordinator.Config{Interval: time.Minute}, tasks, start)
	if err != nil {
		panic(err)
	}
	now := start
	for range 2 {
		deadline, _ := c.NextDeadline()
		now = deadline
		c.Tick(now)
		for len(c.Pending()) > 0 {
			for _, a := range c.Ready() {
				fmt.Println(a)
				switch a := a.(type) {
				case coordinator.Trigger:
					for _, t := range tasks {
						c.Ack(a.ID, t, now)
					}
				case coordinator.Store:
					c.Stored(a.ID, nil, now)
				}
			}
		}
		for _, a := range c.Ready() {
			fmt.Println(a)
		}
	}
	fmt.Println("latest completed:", c.LatestCompleted())
	// Output:
	// trigger id=1 kind=checkpoint
	// store id=1 kind=checkpoint
	// complete id=1 kind=checkpoint
	// trigger id=2 kind=checkpoint
	// store id=2 kind=checkpoint
	// complete id=2 kind=checkpoint
	// latest completed: 2
}
