package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/topics"
)

// Format is a feed file's format.
type Format string

// The file formats.
const (
	FormatJSONL Format = "jsonl"
	FormatCSV   Format = "csv"
)

// ParseFormat reads a --format value; empty means by the file's extension.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "jsonl", "csv":
		return Format(s), nil
	case "ndjson", "json":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("ingest: format %q is not jsonl or csv", s)
}

// FormatOf tells a file's format by its extension: .jsonl, .ndjson, .json
// or .csv.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL, nil
	case ".csv":
		return FormatCSV, nil
	}
	return "", fmt.Errorf("ingest: cannot tell the format of %s by its extension (.jsonl, .ndjson, .json or .csv); name the format", path)
}

// FileOption configures File and ProduceGenerated.
type FileOption func(*fileConfig)

type fileConfig struct {
	format   Format
	kind     Kind
	supplier string
	progress io.Writer
	workers  int
}

// WithFormat reads the file as f whatever its extension.
func WithFormat(f Format) FileOption { return func(c *fileConfig) { c.format = f } }

// WithKind reads every record as kind k; the default tells each record's
// kind from its fields (a CSV file's from its header).
func WithKind(k Kind) FileOption { return func(c *fileConfig) { c.kind = k } }

// WithSupplier sets the supplier of records that name none, and refuses
// records that name another.
func WithSupplier(id string) FileOption { return func(c *fileConfig) { c.supplier = id } }

// WithProgress draws a progress line on w (a terminal) while ingesting.
func WithProgress(w io.Writer) FileOption { return func(c *fileConfig) { c.progress = w } }

// WithWorkers sets how many goroutines decode and validate (default
// GOMAXPROCS).
func WithWorkers(n int) FileOption { return func(c *fileConfig) { c.workers = n } }

func newFileConfig(opts []FileOption) (fileConfig, error) {
	c := fileConfig{workers: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		o(&c)
	}
	if c.supplier != "" && !IsID(c.supplier) {
		return c, errors.New("ingest: " + badID("supplier", c.supplier))
	}
	c.workers = max(c.workers, 1)
	return c, nil
}

// Summary is what an ingest did.
type Summary struct {
	Source string
	// Read counts records read (blank lines are not records).
	Read int64
	// Items and Stock count records produced and acknowledged, by kind.
	Items, Stock int64
	// DeadLettered counts rejected records acknowledged on a dead-letter
	// topic.
	DeadLettered int64
	// Failed counts records Kafka did not acknowledge.
	Failed  int64
	Bytes   int64
	Elapsed time.Duration
	// Samples quotes the first dead letters.
	Samples []Rejected
}

// Rejected is one dead-lettered record: where it was and why.
type Rejected struct {
	Source string
	Reason string
}

// Produced counts valid records acknowledged.
func (s Summary) Produced() int64 { return s.Items + s.Stock }

// Rate is records read per second.
func (s Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Read) / s.Elapsed.Seconds()
}

func (s Summary) String() string {
	return fmt.Sprintf("%s: read %d records (%s) in %s: produced %d (%d items, %d stock levels), dead-lettered %d, failed %d; %.0f records/s",
		s.Source, s.Read, formatBytes(s.Bytes), s.Elapsed.Round(time.Millisecond), s.Produced(), s.Items, s.Stock, s.DeadLettered, s.Failed, s.Rate())
}

// File ingests a JSON Lines or CSV file of item upserts or stock levels.
// Every record is validated; a valid one is produced to its supplier topic,
// a rejected one (bad JSON, bad CSV row, invalid UTF-8, failed validation)
// to the input topic's dead-letter topic with the reason, the source
// (file:PATH:LINE) and the original bytes. Records are decoded in parallel
// and produced in file order, without waiting for each acknowledgement;
// File returns once every record is acknowledged. A bad CSV header, a read
// error or a record Kafka does not acknowledge is an error; the Summary
// says how far it got.
func File(ctx context.Context, path string, p *eventlog.Producer, opts ...FileOption) (Summary, error) {
	sum := Summary{Source: path}
	cfg, err := newFileConfig(opts)
	if err != nil {
		return sum, err
	}
	if cfg.format == "" {
		if cfg.format, err = FormatOf(path); err != nil {
			return sum, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return sum, fmt.Errorf("ingest: %w", err)
	}
	defer f.Close()
	var total int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		total = st.Size()
	}
	lr := newLineReader(f)
	src, err := newSource(lr, cfg)
	if err != nil {
		return sum, fmt.Errorf("ingest: %s: %w", path, err)
	}
	run := &fileRun{cfg: cfg, path: path, src: src, lines: lr}
	err = run.run(ctx, p, total, &sum)
	if err != nil {
		err = fmt.Errorf("ingest: %s: %w", path, err)
	}
	return sum, err
}

// source yields a file's records.
type source struct {
	next   func() (rawRecord, error)
	decode func(string) (record, []FieldError)
}

func newSource(lr *lineReader, cfg fileConfig) (source, error) {
	if cfg.format == FormatJSONL {
		return source{
			next: func() (rawRecord, error) {
				for {
					ln, err := lr.next()
					if err != nil {
						return rawRecord{}, err
					}
					if !blank(ln.data) {
						return rawRecord{line: ln.num, data: ln.data, size: ln.size}, nil
					}
				}
			},
			decode: func(b string) (record, []FieldError) { return decodeJSON(b, cfg.kind) },
		}, nil
	}
	recs := &csvRecords{lines: lr}
	head, err := recs.next()
	switch {
	case errors.Is(err, io.EOF):
		return source{}, errors.New("the CSV file is empty: it needs a header row")
	case err != nil:
		return source{}, err
	case head.err != nil || head.size > 0:
		return source{}, fmt.Errorf("header row (line %d) is not a CSV record", head.line)
	}
	fields, err := parseCSVRecord(string(head.data), nil)
	if err != nil {
		return source{}, fmt.Errorf("header row (line %d): %w", head.line, err)
	}
	h, err := parseHeader(fields, cfg.kind)
	if err != nil {
		return source{}, fmt.Errorf("header row (line %d): %w", head.line, err)
	}
	return source{next: recs.next, decode: h.decodeRow}, nil
}

// fileRun is one File call's pipeline: a reader cuts the file into chunks
// of records; workers decode, validate and build the events of chunks in
// parallel; the caller's goroutine takes chunks in file order and deals
// their events to producing lanes by item key. Records of one item thus
// reach its partition in file order, while the lanes encode in parallel.
type fileRun struct {
	cfg   fileConfig
	path  string
	src   source
	lines *lineReader
	read  atomic.Int64 // records
	bytes atomic.Int64
}

const (
	chunkRecords = 512
	chunkBytes   = 256 << 10
)

// chunk is a run of records. Their bytes are one string, of which each
// record's text, and the decoded fields, are slices.
type chunk struct {
	recs []rawRecord
	ends []int
	buf  strings.Builder
	out  []outcome
	done chan struct{}
}

func newChunk() *chunk {
	c := &chunk{recs: make([]rawRecord, 0, chunkRecords), ends: make([]int, 0, chunkRecords)}
	c.buf.Grow(chunkBytes + 4<<10)
	return c
}

// outcome is a record ready to produce: its event, for its topic or, when
// rejected, for the dead-letter topic.
type outcome struct {
	topic string
	ev    topics.Event
	kind  Kind
	dead  *Rejected // set when rejected
	err   error     // the event could not be built
	lane  int
}

func (fr *fileRun) run(ctx context.Context, p *eventlog.Producer, total int64, sum *Summary) error {
	start := time.Now()
	readCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	em := newEmitter(p, stop)
	if fr.cfg.progress != nil {
		pr := startProgress(fr.cfg.progress, filepath.Base(fr.path), total, true, fr.bytes.Load, em.acked)
		defer pr.Stop()
	}

	n := fr.cfg.workers
	work := make(chan *chunk, n)
	ordered := make(chan *chunk, 4*n)
	readErr := make(chan error, 1)
	go func() { readErr <- fr.readChunks(readCtx, work, ordered) }()
	for range n {
		go func() {
			for c := range work {
				fr.decodeChunk(c, n)
				close(c.done)
			}
		}()
	}
	lanes := make([]chan []*outcome, n)
	var lanesDone sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan []*outcome, 4)
		lanesDone.Add(1)
		go func() {
			defer lanesDone.Done()
			for batch := range lanes[i] {
				for _, o := range batch {
					if readCtx.Err() == nil {
						em.outcome(ctx, o)
					}
				}
			}
		}()
	}
	for c := range ordered {
		<-c.done
		if readCtx.Err() != nil {
			continue // drain: a failure or cancel stops producing
		}
		fr.deal(c, em, lanes)
	}
	for _, l := range lanes {
		close(l)
	}
	lanesDone.Wait()
	err := <-readErr
	waitErr := em.wait(ctx)
	em.fill(sum)
	sum.Read, sum.Bytes, sum.Elapsed = fr.read.Load(), fr.bytes.Load(), time.Since(start)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("stopped after %d records: %w", sum.Read, context.Cause(ctx))
	case waitErr != nil:
		return fmt.Errorf("%d records were not acknowledged by Kafka (first: %w); run the file again: upserts and stock levels are absolute, so a rerun is safe", sum.Failed, waitErr)
	}
	return err
}

// deal hands a chunk's outcomes to the lanes, in order, and keeps the
// first dead letters as samples (in file order).
func (fr *fileRun) deal(c *chunk, em *emitter, lanes []chan []*outcome) {
	batches := make([][]*outcome, len(lanes))
	for i := range c.out {
		o := &c.out[i]
		if o.dead != nil && len(em.samples) < maxSamples {
			em.samples = append(em.samples, *o.dead)
		}
		batches[o.lane] = append(batches[o.lane], o)
	}
	for i, b := range batches {
		if len(b) > 0 {
			lanes[i] <- b
		}
	}
}

// readChunks reads records into chunks, hands each to a worker and queues
// it for producing in order.
func (fr *fileRun) readChunks(ctx context.Context, work, ordered chan<- *chunk) error {
	defer close(ordered)
	defer close(work)
	c := newChunk()
	dispatch := func() {
		text, start := c.buf.String(), 0
		for i, end := range c.ends {
			c.recs[i].text, c.recs[i].data = text[start:end], nil
			start = end
		}
		c.done = make(chan struct{})
		work <- c
		ordered <- c
		c = newChunk()
	}
	for ctx.Err() == nil {
		rec, err := fr.src.next()
		fr.bytes.Store(fr.lines.read)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		fr.read.Add(1)
		c.buf.Write(rec.data)
		c.ends = append(c.ends, c.buf.Len())
		c.recs = append(c.recs, rec)
		if len(c.recs) == chunkRecords || c.buf.Len() >= chunkBytes {
			dispatch()
		}
	}
	if len(c.recs) > 0 {
		dispatch()
	}
	return nil
}

func (fr *fileRun) decodeChunk(c *chunk, lanes int) {
	c.out = make([]outcome, len(c.recs))
	for i, r := range c.recs {
		o := &c.out[i]
		var rec record
		var why string
		switch {
		case r.size > 0:
			rec.kind = kindOr(fr.cfg.kind)
			why = fmt.Sprintf("record is %d bytes, longer than the limit of %d", r.size, MaxLineBytes)
		case r.err != nil:
			rec.kind = kindOr(fr.cfg.kind)
			why = reason(rec.kind, []FieldError{*r.err})
		default:
			var errs []FieldError
			rec, errs = accept(r.text, fr.src.decode, fr.cfg.supplier)
			if len(errs) > 0 {
				why = reason(rec.kind, errs)
			}
		}
		o.kind, o.lane = rec.kind, laneOf(rec.itemID(), lanes)
		if why == "" {
			o.topic = rec.kind.Topic()
			o.ev, o.err = rec.event()
			continue
		}
		o.dead = &Rejected{Source: fmt.Sprintf("file:%s:%d", fr.path, r.line), Reason: why}
		o.topic = topics.DeadLetterTopic(rec.kind.Topic())
		o.ev, o.err = deadLetterEvent(rec.kind.Topic(), rec.itemID(), *o.dead, []byte(r.text))
	}
}

// laneOf spreads keys over n lanes (FNV-1a); one key, one lane.
func laneOf(key string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int(h % uint32(n))
}

// accept decodes one record, fills in the supplier, and validates it.
func accept(raw string, decode func(string) (record, []FieldError), supplier string) (record, []FieldError) {
	rec, errs := decode(raw)
	if rec.broken {
		return rec, errs
	}
	return rec, mergeErrors(errs, rec.check(supplier))
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
