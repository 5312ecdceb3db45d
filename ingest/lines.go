package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Limits on file input.
const (
	// MaxLineBytes bounds one record of a file (a JSON line, or a CSV record
	// with its quoted line breaks). A longer one is dead-lettered, cut.
	MaxLineBytes = 1 << 20
	// MaxOriginalBytes bounds the original bytes a dead letter carries, so it
	// stays under Kafka's default max.message.bytes (1 MB) once base64'd.
	MaxOriginalBytes = 256 << 10
)

// line is one physical line of a file.
type line struct {
	num  int
	data []byte // without the line ending (\n or \r\n)
	// size is the line's full length when data was cut at MaxLineBytes.
	size int
	// eol is false only for a last line without a line ending.
	eol bool
}

// lineReader splits a file into lines, never holding more than
// MaxLineBytes of one line.
type lineReader struct {
	r    *bufio.Reader
	num  int
	read int64 // bytes consumed, for progress
	long []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next line; data is valid until the following call. It
// returns io.EOF after the last line.
func (l *lineReader) next() (line, error) {
	b, err := l.r.ReadSlice('\n')
	l.read += int64(len(b))
	if errors.Is(err, bufio.ErrBufferFull) {
		// A line longer than the buffer: gather it, keeping at most
		// MaxLineBytes and counting the rest.
		l.long = append(l.long[:0], b...)
		size := len(b)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = l.r.ReadSlice('\n')
			l.read += int64(len(b))
			size += len(b)
			if room := MaxLineBytes + 2 - len(l.long); room > 0 {
				l.long = append(l.long, b[:min(room, len(b))]...)
			}
		}
		b = l.long
		if size > MaxLineBytes+2 {
			l.num++
			return line{num: l.num, data: b[:MaxLineBytes], size: size, eol: err == nil}, nil
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return line{}, err
	}
	if len(b) == 0 && err != nil {
		return line{}, io.EOF
	}
	l.num++
	ln := line{num: l.num, data: b, eol: err == nil}
	if l.num == 1 {
		ln.data = bytes.TrimPrefix(ln.data, utf8BOM)
	}
	if ln.eol {
		ln.data = ln.data[:len(ln.data)-1]
	}
	// \r\n ends a line too, and encoding/csv drops a \r before the end of
	// the file.
	ln.data = bytes.TrimSuffix(ln.data, []byte{'\r'})
	if len(ln.data) > MaxLineBytes {
		ln.size, ln.data = len(ln.data), ln.data[:MaxLineBytes]
	}
	return ln, nil
}

// blank reports a line of only white space, which is not a record.
func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// utf8BOM is the byte order mark some tools put at the start of a file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}
