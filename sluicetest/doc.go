// Package sluicetest helps test sluice jobs in-process, in the spirit of
// net/http/httptest: run a job over collections, collect what each sink
// received (at-least-once or, with TxSink, only what checkpoints
// committed), inject failures to test recovery (Failer), and control
// processing time with a manual clock.
//
//	env := stream.New("test", stream.WithClock(clock))
//	out := sluicetest.NewSink[int]()
//	stream.Map(stream.FromSlice(env, []int{1, 2, 3}), double).SinkTo("out", out)
//	sluicetest.Run(t, env)
//	// out.Values() == []int{2, 4, 6}
package sluicetest
