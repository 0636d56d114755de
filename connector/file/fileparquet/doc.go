// Package fileparquet is the Parquet encoder of the file sink
// (connector/file), built on github.com/parquet-go/parquet-go: one part
// file is one Parquet file of a struct type's rows.
//
// Parquet is a bulk format: a file is readable only once its footer is
// written, so part files cannot stay open across checkpoints and roll at
// every checkpoint (as well as by the sink's rolling policy; its size limit
// counts the bytes parquet-go has written out, which lag behind the rows
// buffered for the current row group). It sits
// beside package file so that jobs that write no Parquet do not depend on
// parquet-go.
package fileparquet
