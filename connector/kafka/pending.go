package kafka

// Pending is the number of records the writer produced that the brokers
// have not acknowledged yet (the runtime shows it: runtime.Pending). A
// flush on the barrier waits for all of them.
func (w *writer[T]) Pending() (int64, bool) { return w.cl.BufferedProduceRecords(), true }

// Pending is the number of records of the open transaction that the
// brokers have not acknowledged yet (records acknowledged but not yet
// committed are not counted); 0 between transactions.
func (w *txWriter[T]) Pending() (int64, bool) {
	if w.cur == nil {
		return 0, true
	}
	return w.cur.cl.BufferedProduceRecords(), true
}
