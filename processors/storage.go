package processors

import (
	"fmt"
	"hash/maphash"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lovoo/goka/storage"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/filter"
	ldbiter "github.com/syndtr/goleveldb/leveldb/iterator"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// offsetKey is where a table partition keeps the changelog offset it holds,
// as goka's own LevelDB storage does, so either reads the other's tables.
const offsetKey = "__offset"

// Write-behind limits: a table partition writes its pending changes to
// LevelDB in one batch once it holds this many, this many bytes, or has
// held any for flushInterval.
const (
	flushRecords  = 512
	flushBytes    = 512 << 10
	flushInterval = 500 * time.Millisecond
)

// levelDBOptions are the options of every table partition. A lookup of a
// key the table lacks (an item's first event) is common, and a bloom
// filter per LevelDB table answers it without reading a block. The caches
// are smaller than LevelDB's defaults (8 MiB block cache, 4 MiB write
// buffer) because a process holds one database per table partition, views
// included: fifteen in all-in-one.
func levelDBOptions() *opt.Options {
	return &opt.Options{
		Filter:             filter.NewBloomFilter(10),
		BlockCacheCapacity: 1 << 20,
		WriteBuffer:        1 << 20,
	}
}

// storageBuilder keeps each table partition in LevelDB under dir.
func storageBuilder(dir string) storage.Builder {
	return func(topic string, partition int32) (storage.Storage, error) {
		path := filepath.Join(dir, fmt.Sprintf("%s.%d", topic, partition))
		db, err := leveldb.OpenFile(path, levelDBOptions())
		if err != nil {
			return nil, fmt.Errorf("processors: open table %s/%d at %s: %w", topic, partition, path, err)
		}
		return newBatched(db), nil
	}
}

// batched is goka's LevelDB storage with its writes batched. goka writes
// every table change and then, once the changelog acknowledges it, the
// changelog offset, each as its own LevelDB write: two journal writes per
// record, a fifth of a processor's CPU. batched holds changes, readable
// at once, and writes them with the latest offset in one batch.
//
// A crash loses what was pending, and the stored offset with it: recovery
// replays the changelog from the older offset it finds, which is how goka
// recovers any table whose offset lags its changelog.
type batched struct {
	db *leveldb.DB

	mu      sync.RWMutex
	batch   leveldb.Batch
	pending map[string]change
	size    int
	// offset is the newest changelog offset set; stored is the one last
	// written to LevelDB.
	offset atomic.Int64
	stored int64

	// written holds every key set since the table was opened empty, so a
	// lookup of any other key misses without reading LevelDB, where it
	// cost a seek in every level-0 table: a processor building its table
	// from scratch (a new group, a replay) looks up each key first. nil
	// for a table that was not empty, and once it holds too many keys.
	written *keyFilter

	// stop ends the background writes Open starts; done closes when they
	// have ended.
	stop, done chan struct{}
	err        atomic.Pointer[error]
}

// change is a pending write: a value, or a deletion.
type change struct {
	value   []byte
	deleted bool
}

func newBatched(db *leveldb.DB) *batched {
	b := &batched{db: db, pending: map[string]change{}, stop: make(chan struct{})}
	it := db.NewIterator(nil, nil)
	if !it.First() {
		b.written = newKeyFilter()
	}
	it.Release()
	return b
}

// Open starts writing pending changes every flushInterval.
func (b *batched) Open() error {
	b.done = make(chan struct{})
	go func() {
		defer close(b.done)
		t := time.NewTicker(flushInterval)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.mu.Lock()
				if err := b.flushLocked(); err != nil {
					b.err.Store(&err)
				}
				b.mu.Unlock()
			}
		}
	}()
	return nil
}

// Close writes what is pending and closes the database.
func (b *batched) Close() error {
	close(b.stop)
	if b.done != nil {
		<-b.done
	}
	b.mu.Lock()
	err := b.flushLocked()
	b.mu.Unlock()
	if cerr := b.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// failed is the error of a background write, which the next write returns.
func (b *batched) failed() error {
	if p := b.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (b *batched) Has(key string) (bool, error) {
	v, err := b.Get(key)
	return v != nil, err
}

func (b *batched) Get(key string) ([]byte, error) {
	b.mu.RLock()
	c, ok := b.pending[key]
	never := b.written != nil && !b.written.mayHave(key)
	b.mu.RUnlock()
	if ok {
		if c.deleted {
			return nil, nil
		}
		return c.value, nil
	}
	if never {
		return nil, nil
	}
	v, err := b.db.Get([]byte(key), nil)
	if err == leveldb.ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("processors: table get %q: %w", key, err)
	}
	return v, nil
}

// Set keeps value; the caller does not change it afterwards (goka hands
// over freshly encoded or freshly read bytes).
func (b *batched) Set(key string, value []byte) error {
	return b.put(key, change{value: value})
}

func (b *batched) Delete(key string) error {
	return b.put(key, change{deleted: true})
}

func (b *batched) put(key string, c change) error {
	if err := b.failed(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.deleted {
		b.batch.Delete([]byte(key))
	} else {
		b.batch.Put([]byte(key), c.value)
	}
	b.pending[key] = c
	b.size += len(key) + len(c.value)
	if b.written != nil && !b.written.add(key) {
		b.written = nil // full: lookups read LevelDB again
	}
	if b.batch.Len() >= flushRecords || b.size >= flushBytes {
		return b.flushLocked()
	}
	return nil
}

// flushLocked writes the pending changes and the newest offset in one
// batch. The caller holds mu.
func (b *batched) flushLocked() error {
	off := b.offset.Load()
	if off != b.stored && off != 0 {
		b.batch.Put([]byte(offsetKey), strconv.AppendInt(nil, off, 10))
	}
	if b.batch.Len() == 0 {
		return nil
	}
	if err := b.db.Write(&b.batch, nil); err != nil {
		return fmt.Errorf("processors: table write of %d changes: %w", len(b.pending), err)
	}
	b.stored = off
	b.batch.Reset()
	clear(b.pending)
	b.size = 0
	return nil
}

// GetOffset returns the newest changelog offset set, else the one stored,
// else def.
func (b *batched) GetOffset(def int64) (int64, error) {
	if off := b.offset.Load(); off != 0 {
		return off, nil
	}
	v, err := b.db.Get([]byte(offsetKey), nil)
	if err == leveldb.ErrNotFound {
		return def, nil
	}
	if err != nil {
		return 0, fmt.Errorf("processors: table offset: %w", err)
	}
	off, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("processors: table offset %q: %w", v, err)
	}
	return off, nil
}

// SetOffset records the changelog offset the table holds; it is written
// with the next batch.
func (b *batched) SetOffset(off int64) error {
	b.offset.Store(off)
	return b.failed()
}

// MarkRecovered writes the table as recovered so far.
func (b *batched) MarkRecovered() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

// Iterator walks a snapshot of the table, pending changes written first.
func (b *batched) Iterator() (storage.Iterator, error) {
	return b.iterator(nil)
}

// IteratorWithRange walks the keys in [start, limit), or with prefix
// start if limit is empty, as goka's storage does.
func (b *batched) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	if len(limit) > 0 {
		return b.iterator(&util.Range{Start: start, Limit: limit})
	}
	return b.iterator(util.BytesPrefix(start))
}

func (b *batched) iterator(r *util.Range) (storage.Iterator, error) {
	b.mu.Lock()
	err := b.flushLocked()
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &iterator{it: b.db.NewIterator(r, &opt.ReadOptions{DontFillCache: true})}, nil
}

// iterator skips the offset key.
type iterator struct{ it ldbiter.Iterator }

func (i *iterator) Next() bool {
	for i.it.Next() {
		if string(i.it.Key()) != offsetKey {
			return true
		}
	}
	return false
}

func (i *iterator) Err() error             { return i.it.Error() }
func (i *iterator) Key() []byte            { return i.it.Key() }
func (i *iterator) Value() ([]byte, error) { return i.it.Value(), nil }
func (i *iterator) Release()               { i.it.Release() }
func (i *iterator) Seek(key []byte) bool   { return i.it.Seek(key) }

// keyFilter is a Bloom filter of keys: mayHave is false only for a key
// never added.
type keyFilter struct {
	bits []uint64
	n    int
}

// Its size: 2^21 bits (256 KiB) take keyFilterKeys keys at about one false
// positive in a hundred, seven probes each.
const (
	keyFilterBits   = 1 << 21
	keyFilterKeys   = 200_000
	keyFilterProbes = 7
)

var keyFilterSeed = maphash.MakeSeed()

func newKeyFilter() *keyFilter { return &keyFilter{bits: make([]uint64, keyFilterBits/64)} }

// hashes are the two hashes of key whose combinations pick its bits.
func hashes(key string) (h1, h2 uint64) {
	h := maphash.String(keyFilterSeed, key)
	return h & 0xffffffff, h>>32 | 1
}

// add adds key; false once the filter holds more keys than it is sized for.
func (f *keyFilter) add(key string) bool {
	if f.mayHave(key) {
		return true
	}
	h1, h2 := hashes(key)
	for i := range uint64(keyFilterProbes) {
		bit := (h1 + i*h2) % keyFilterBits
		f.bits[bit/64] |= 1 << (bit % 64)
	}
	f.n++
	return f.n <= keyFilterKeys
}

func (f *keyFilter) mayHave(key string) bool {
	h1, h2 := hashes(key)
	for i := range uint64(keyFilterProbes) {
		bit := (h1 + i*h2) % keyFilterBits
		if f.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}
