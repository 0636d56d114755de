package eventtime

import "time"

// sliding assigns each timestamp to the windows of a fixed size that start
// every slide milliseconds.
type sliding struct {
	size, slide, offset int64 // milliseconds
	sizeD, slideD, offD time.Duration
	hasOffset           bool
}

// Sliding returns an assigner of fixed-size windows that start every slide,
// shifted by the optional offset, as in Flink. When slide divides size, an
// element belongs to size/slide windows; otherwise to the floor or the
// ceiling of that; when slide > size, to at most one. Sliding panics if size
// or slide is not positive, if more than one offset is given, if
// |offset| >= slide, or if a duration is not a whole number of milliseconds;
// see [ValidateSliding].
func Sliding(size, slide time.Duration, offset ...time.Duration) Assigner {
	if err := ValidateSliding(size, slide, offset...); err != nil {
		panic("eventtime: " + err.Error())
	}
	s := &sliding{size: millis(size), slide: millis(slide), sizeD: size, slideD: slide}
	if len(offset) == 1 {
		s.offset, s.offD, s.hasOffset = millis(offset[0]), offset[0], true
	}
	return s
}

func (s *sliding) Assign(ts int64, dst []TimeWindow) []TimeWindow {
	// The latest window containing ts starts r before ts; the k-th earlier
	// one starts d = r + k*slide before ts, and contains ts while d < size.
	r := periodRemainder(ts, s.slide, s.offset)
	if r >= s.size {
		return dst
	}
	k := (s.size - 1 - r) / s.slide
	for d := r + k*s.slide; d >= r; d -= s.slide {
		dst = append(dst, TimeWindow{Start: subSat(ts, d), End: addSat(ts, s.size-d)})
	}
	return dst
}

func (s *sliding) IsMerging() bool { return false }

func (s *sliding) String() string {
	str := "Sliding(size=" + s.sizeD.String() + ", slide=" + s.slideD.String()
	if s.hasOffset {
		str += ", offset=" + s.offD.String()
	}
	return str + ")"
}
