package zeeklog

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// keepBytes is how much of an over-long line is kept in event.original.
const keepBytes = 1024

// initialBuffer is the starting size of a line buffer; it grows up to the
// line limit when a long line needs it.
const initialBuffer = 64 << 10

// rawLine is one line as cut from the stream.
type rawLine struct {
	// text is the line without its '\n'. It aliases the reader's buffer
	// and is valid until the next call to next.
	text []byte
	// size is the number of stream bytes the line took, newline included.
	size int64
	// long, when > 0, says the line was longer than the limit: text holds
	// only its first keepBytes and long is its full length.
	long int64
}

// lineReader cuts a stream into lines of at most max bytes (newline not
// counted), discarding the middle of longer ones. It sniffs for gzip on
// its first read when asked to.
type lineReader struct {
	src     io.Reader
	buf     []byte
	r, w    int // buf[r:w] has been read but not returned
	scanned int // buf[r:r+scanned] is known to hold no '\n'
	max     int
	sniff   bool  // gzip detection still pending
	err     error // a read error other than io.EOF, returned once drained

	// An over-long line whose end has not been reached yet.
	long    bool
	prefix  []byte
	longLen int64
}

func newLineReader(src io.Reader, max int, sniff bool) *lineReader {
	size := initialBuffer
	if max+1 < size {
		size = max + 1
	}
	return &lineReader{src: src, buf: make([]byte, size), max: max, sniff: sniff}
}

// next returns the next line. At the end of the data it returns io.EOF;
// when hold is true a last line without its newline is kept back (the
// writer may still be appending to it) and a later call that finds more
// data continues it, otherwise that last line is returned as it is.
func (l *lineReader) next(hold bool) (rawLine, error) {
	for {
		if l.long {
			if i := bytes.IndexByte(l.buf[l.r:l.w], '\n'); i >= 0 {
				l.longLen += int64(i)
				l.r += i + 1
				l.long = false
				return rawLine{text: l.prefix, size: l.longLen + 1, long: l.longLen}, nil
			}
			l.longLen += int64(l.w - l.r)
			l.r, l.w = 0, 0
		} else if l.sniff && l.w-l.r >= 1 && l.buf[l.r] != 0x1f {
			l.sniff = false // cannot be gzip; look for lines right away
			continue
		} else if !l.sniff {
			if i := bytes.IndexByte(l.buf[l.r+l.scanned:l.w], '\n'); i >= 0 {
				end := l.r + l.scanned + i
				ln := rawLine{text: l.buf[l.r:end], size: int64(end - l.r + 1)}
				l.r = end + 1
				l.scanned = 0
				return ln, nil
			}
			l.scanned = l.w - l.r
			if l.w-l.r > l.max {
				l.startLong()
				continue
			}
		}

		err := l.fill()
		if err == nil {
			continue
		}
		if hold && errors.Is(err, io.EOF) {
			return rawLine{}, io.EOF
		}
		return l.atEnd(err)
	}
}

// startLong switches to discarding an over-long line, keeping its start.
func (l *lineReader) startLong() {
	l.prefix = append(l.prefix[:0], l.buf[l.r:l.r+min(keepBytes, l.w-l.r)]...)
	l.longLen = int64(l.w - l.r)
	l.r, l.w, l.scanned = 0, 0, 0
	l.long = true
}

// atEnd returns what is left when the stream ends or fails: the last line
// without a newline if there is one, then err.
func (l *lineReader) atEnd(err error) (rawLine, error) {
	l.sniff = false
	if l.long {
		l.long = false
		return rawLine{text: l.prefix, size: l.longLen, long: l.longLen}, nil
	}
	if l.w > l.r {
		ln := rawLine{text: l.buf[l.r:l.w], size: int64(l.w - l.r)}
		l.r, l.w, l.scanned = 0, 0, 0
		return ln, nil
	}
	return rawLine{}, err
}

// fill reads more data into the buffer, making room first. It returns
// io.EOF at the end of the data; any other read error is sticky.
func (l *lineReader) fill() error {
	if l.err != nil {
		return l.err
	}
	if l.r > 0 {
		n := copy(l.buf, l.buf[l.r:l.w])
		l.r, l.w = 0, n
	}
	if l.w == len(l.buf) {
		size := 2 * len(l.buf)
		if size > l.max+1 {
			size = l.max + 1
		}
		nb := make([]byte, size)
		copy(nb, l.buf[:l.w])
		l.buf = nb
	}

	// A reader may return 0, nil; try a few times before calling it EOF,
	// as bufio does.
	for range 100 {
		n, err := l.src.Read(l.buf[l.w:])
		l.w += n
		if l.sniff && (l.w >= 2 || err != nil) {
			if serr := l.sniffGzip(); serr != nil {
				return serr
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			l.err = err // sticky: the stream cannot be trusted past it
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// sniffGzip replaces the source with a gzip reader when the stream starts
// with the gzip magic bytes.
func (l *lineReader) sniffGzip() error {
	if l.w < 2 {
		return nil // too short to tell yet; the caller decides at EOF
	}
	l.sniff = false
	if l.buf[0] != 0x1f || l.buf[1] != 0x8b {
		return nil
	}
	head := append([]byte(nil), l.buf[:l.w]...)
	zr, err := gzip.NewReader(io.MultiReader(bytes.NewReader(head), l.src))
	if err != nil {
		l.r, l.w = 0, 0
		l.err = fmt.Errorf("gzip header: %w", err)
		return l.err
	}
	l.src = zr
	l.r, l.w, l.scanned = 0, 0, 0
	return nil
}
