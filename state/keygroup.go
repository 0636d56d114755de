package state

import "fmt"

const (
	// DefaultMaxParallelism is the number of key groups used when
	// Options.MaxParallelism is zero.
	DefaultMaxParallelism = 128
	// MaxMaxParallelism is the largest supported number of key groups.
	MaxMaxParallelism = 32768
)

// KeyGroupRange is the half-open range [Start, End) of key groups owned by
// one subtask.
type KeyGroupRange struct{ Start, End int }

// Contains reports whether key group kg lies in r.
func (r KeyGroupRange) Contains(kg int) bool { return kg >= r.Start && kg < r.End }

// Len returns the number of key groups in r.
func (r KeyGroupRange) Len() int {
	if r.End < r.Start {
		return 0
	}
	return r.End - r.Start
}

// String formats r as "[start, end)".
func (r KeyGroupRange) String() string { return fmt.Sprintf("[%d, %d)", r.Start, r.End) }

// RangeForSubtask returns the contiguous key groups owned by subtask
// (0-based) of an operator with the given parallelism: the range starts at
// ceil(subtask*maxParallelism/parallelism), the same split Flink uses, so the
// ranges of all subtasks partition [0, maxParallelism).
// It panics unless 0 < parallelism <= maxParallelism <= MaxMaxParallelism
// and 0 <= subtask < parallelism.
func RangeForSubtask(maxParallelism, parallelism, subtask int) KeyGroupRange {
	checkParallelism(maxParallelism, parallelism)
	if subtask < 0 || subtask >= parallelism {
		panic(fmt.Sprintf("state: subtask %d out of range for parallelism %d", subtask, parallelism))
	}
	start := (subtask*maxParallelism + parallelism - 1) / parallelism
	end := ((subtask+1)*maxParallelism-1)/parallelism + 1
	return KeyGroupRange{Start: start, End: end}
}

// SubtaskForKeyGroup returns the subtask that owns key group kg:
// kg*parallelism/maxParallelism. It is the inverse of RangeForSubtask.
// It panics on the same arguments RangeForSubtask panics on, or if kg is
// outside [0, maxParallelism).
func SubtaskForKeyGroup(maxParallelism, parallelism, kg int) int {
	checkParallelism(maxParallelism, parallelism)
	if kg < 0 || kg >= maxParallelism {
		panic(fmt.Sprintf("state: key group %d out of range [0, %d)", kg, maxParallelism))
	}
	return kg * parallelism / maxParallelism
}

// KeyGroupOf returns the key group of a key whose Hasher value is hash:
// hash % maxParallelism.
func KeyGroupOf(hash uint64, maxParallelism int) int {
	return int(hash % uint64(maxParallelism))
}

func checkParallelism(maxParallelism, parallelism int) {
	if maxParallelism <= 0 || maxParallelism > MaxMaxParallelism {
		panic(fmt.Sprintf("state: max parallelism %d out of range [1, %d]", maxParallelism, MaxMaxParallelism))
	}
	if parallelism <= 0 || parallelism > maxParallelism {
		panic(fmt.Sprintf("state: parallelism %d out of range [1, %d]", parallelism, maxParallelism))
	}
}
