package testsrc

import (
	"strconv"
	"sync"
	"time"
	"weak"
)

// sceneKey is what a scene depends on: streams with equal keys share one.
type sceneKey struct {
	width, height, fps, gopFrames int
	bitrate                       int64
}

// scene is the immutable part of a video stream, built once per sceneKey and
// shared by every stream with that key: parameter sets, the static slices of
// keyframes, the P slices, and a pool of scratch space for keyframes.
type scene struct {
	key    sceneKey
	format videoFormat
	lay    layout

	sps, pps []byte
	// top and bottom are the slices above and below the dynamic rows, one
	// per idr_pic_id (consecutive IDR pictures must differ in it); bottom
	// is nil when the dynamic rows reach the bottom.
	top, bottom [2][]byte
	// pSlices[n] is the P slice of the n-th frame of a GOP (n >= 1).
	pSlices [][]byte

	work sync.Pool // *workspace
}

// workspace is the scratch space of one keyframe being made.
type workspace struct {
	pic  *picture // the dynamic rows
	enc  sliceEncoder
	text []byte
}

// Colours of the picture.
var (
	colorBackground = rgb(18, 26, 44)
	colorInfo       = rgb(150, 160, 185)
	colorClock      = rgb(240, 240, 240)
	colorCounter    = rgb(255, 196, 0)
	colorTrack      = rgb(45, 55, 80)
	colorBar        = rgb(255, 120, 0)
	// colorBars are 75% colour bars.
	colorBars = [...]color{
		rgb(191, 191, 191), rgb(191, 191, 0), rgb(0, 191, 191), rgb(0, 191, 0),
		rgb(191, 0, 191), rgb(191, 0, 0), rgb(0, 0, 191),
	}
)

// scenes caches scenes by key without keeping them alive: a scene lives as
// long as a source or a frame's buffers use it.
var scenes struct {
	sync.Mutex
	m map[sceneKey]weak.Pointer[scene]
}

// sceneFor returns the scene of key, building it if no live one exists.
func sceneFor(key sceneKey) *scene {
	scenes.Lock()
	defer scenes.Unlock()
	if s := scenes.m[key].Value(); s != nil {
		return s
	}
	if scenes.m == nil {
		scenes.m = make(map[sceneKey]weak.Pointer[scene])
	}
	for k, p := range scenes.m {
		if p.Value() == nil {
			delete(scenes.m, k)
		}
	}
	s := buildScene(key)
	scenes.m[key] = weak.Make(s)
	return s
}

func buildScene(key sceneKey) *scene {
	s := &scene{key: key, format: newVideoFormat(key.width, key.height, key.fps, key.gopFrames)}
	f := &s.format
	info := s.infoText()
	s.lay = newLayout(key.width, key.height, len(info))
	codedW, codedH := f.mbW*16, f.mbH*16
	dynTop, dynH := s.lay.dynRow0*16, (s.lay.dynRow1-s.lay.dynRow0)*16
	s.work.New = func() any {
		return &workspace{pic: newPicture(codedW, dynTop, dynH), text: make([]byte, 0, 32)}
	}

	full := newPicture(codedW, 0, codedH)
	s.drawStatic(full, info)
	var enc sliceEncoder
	for id := range s.top {
		s.top[id] = appendNAL(nil, nalHeader(3, nalIDR), enc.idrSliceRBSP(f, full, 0, s.lay.dynRow0, uint32(id)))
		if s.lay.dynRow1 < f.mbH {
			s.bottom[id] = appendNAL(nil, nalHeader(3, nalIDR), enc.idrSliceRBSP(f, full, s.lay.dynRow1, f.mbH, uint32(id)))
		}
	}

	// All P slices in one buffer; each is capped so none can grow into the
	// next.
	var buf []byte
	ends := make([]int, key.gopFrames)
	for n := 1; n < key.gopFrames; n++ {
		buf = appendPSlice(buf, f, uint32(n))
		ends[n] = len(buf)
	}
	s.pSlices = make([][]byte, key.gopFrames)
	for n := 1; n < key.gopFrames; n++ {
		s.pSlices[n] = buf[ends[n-1]:ends[n]:ends[n]]
	}

	// The level depends on the bitrate, which the keyframes may push above
	// the requested one: measure a keyframe with much ink.
	keyBytes := len(s.dynamicSlice(0, []byte("88:88:88"), []byte("UTC  frame 8888888"), 0.5)) + startCodeN
	for _, b := range [][]byte{s.top[0], s.bottom[0]} {
		if b != nil {
			keyBytes += len(b) + startCodeN
		}
	}
	pBytes := 0
	if key.gopFrames > 1 {
		pBytes = len(s.pSlices[1]) + startCodeN
	}
	natural := int64(keyBytes+(key.gopFrames-1)*pBytes+64) * 8 * int64(key.fps) / int64(key.gopFrames)
	f.level = chooseLevel(f.mbW, f.mbH, key.fps, max(key.bitrate, natural*5/4))
	s.sps = f.appendSPS(nil)
	s.pps = f.appendPPS(nil)
	return s
}

// infoText is the line of stream parameters, e.g. "640x360 25fps 1000k gop 2s".
func (s *scene) infoText() []byte {
	k := s.key
	b := strconv.AppendInt(nil, int64(k.width), 10)
	b = append(b, 'x')
	b = strconv.AppendInt(b, int64(k.height), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(k.fps), 10)
	b = append(b, "fps "...)
	switch {
	case k.bitrate%1_000_000 == 0:
		b = append(strconv.AppendInt(b, k.bitrate/1_000_000, 10), 'M')
	case k.bitrate%1000 == 0:
		b = append(strconv.AppendInt(b, k.bitrate/1000, 10), 'k')
	default:
		b = strconv.AppendInt(b, k.bitrate, 10)
	}
	b = append(b, " gop "...)
	b = strconv.AppendFloat(b, float64(k.gopFrames)/float64(k.fps), 'g', 3, 64)
	return append(b, 's')
}

// drawStatic draws everything but the dynamic elements on a full picture.
func (s *scene) drawStatic(p *picture, info []byte) {
	p.fill(colorBackground)
	n := len(colorBars)
	for i, c := range colorBars {
		x0, x1 := even(i*s.lay.width/n), even((i+1)*s.lay.width/n)
		if i == n-1 {
			x1 = p.w
		}
		p.fillRect(x0, 0, x1, s.lay.barsH, c)
	}
	if l := s.lay.info; l.visible {
		p.drawText(l.x, l.y, l.scale, info, colorInfo)
	}
}

// drawDynamic draws the clock, the frame counter and the minute bar (filled
// to fraction 0..1) on a picture holding at least the dynamic rows, whose
// background is already painted.
func (s *scene) drawDynamic(p *picture, clock, counter []byte, fraction float64) {
	l := &s.lay
	p.drawText(l.clock.x, l.clock.y, l.clock.scale, clock, colorClock)
	p.drawText(l.counter.x, l.counter.y, l.counter.scale, counter, colorCounter)
	p.fillRect(l.barX0, l.barY0, l.barX1, l.barY1, colorTrack)
	fill := l.barX0 + even(int(fraction*float64(l.barX1-l.barX0)))
	p.fillRect(l.barX0, l.barY0, fill, l.barY1, colorBar)
}

// dynamicSlice codes the dynamic rows of a keyframe into a new IDR slice NAL
// unit, which the caller owns.
func (s *scene) dynamicSlice(idrPicID uint32, clock, counter []byte, fraction float64) []byte {
	ws := s.work.Get().(*workspace)
	defer s.work.Put(ws)
	ws.pic.fill(colorBackground)
	s.drawDynamic(ws.pic, clock, counter, fraction)
	rbsp := ws.enc.idrSliceRBSP(&s.format, ws.pic, s.lay.dynRow0, s.lay.dynRow1, idrPicID)
	// Emulation prevention bytes are rare here (samples are never zero).
	nal := make([]byte, 0, 1+len(rbsp)+len(rbsp)/64+8)
	return appendNAL(nal, nalHeader(3, nalIDR), rbsp)
}

// keyframeTexts formats the clock and counter of frame n shown at wall time t
// into buf, without allocating once buf has grown.
func keyframeTexts(buf []byte, t time.Time, n int64) (clock, counter []byte, fraction float64) {
	t = t.UTC()
	buf = appendTwoDigits(buf[:0], t.Hour())
	buf = append(buf, ':')
	buf = appendTwoDigits(buf, t.Minute())
	buf = append(buf, ':')
	buf = appendTwoDigits(buf, t.Second())
	mid := len(buf)
	buf = append(buf, "UTC  frame "...)
	buf = strconv.AppendInt(buf, n, 10)
	fraction = (float64(t.Second()) + float64(t.Nanosecond())/1e9) / 60
	return buf[:mid], buf[mid:], fraction
}

func appendTwoDigits(b []byte, v int) []byte {
	return append(b, byte('0'+v/10%10), byte('0'+v%10))
}
