// Package stream is sluice's typed DataStream API: an [Env] holds the job
// being built; sources give a [Stream]; functions such as [Map], [Filter],
// [KeyBy], [Reduce], [Process] and [Window] derive new streams; sinks end
// them. Execute runs the job.
//
// Go methods cannot have type parameters, so transformations that change
// the element type are functions (stream.Map(s, fn)); settings that keep
// it are methods (s.Name("parse").Parallelism(4)).
//
// Options and settings cannot return errors: an invalid value (a
// parallelism below 1, say) is recorded and left unapplied, and Validate, Start
// and Execute return an error wrapping runtime.ErrConfig that names every
// such setting and its operator. They also refuse a job without a sink.
//
// The package only builds a logical graph (package graph); the runtime
// executes it. YAML pipelines build the same graph.
package stream
