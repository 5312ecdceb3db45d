package history

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/internal/schema"
)

// The embedded store's keys. Metadata lives under "m/"; the orders are
// laid out so that the reads Cassandra answers from its two tables are one
// Get and one reverse range scan here:
//
//	o/<order_id>                                      an order (orders_by_id)
//	u/<user_id> 0x00 <created_at> / <order_id>        a user's order (orders_by_user_micros)
//
// created_at is Unix microseconds (the order-taking database's precision)
// with the sign bit flipped, as 16 hex digits, so keys sort by time. A
// user's orders, newest first, are the prefix "u/<user_id>" 0x00 read
// backwards: that also orders equal times by order_id descending, exactly
// like orders_by_user_micros's CLUSTERING ORDER BY (created_micros DESC,
// order_id DESC). The 0x00 ends the user id, so one user's prefix never
// covers another's. From v2 on, both keys hold the whole order (its JSON),
// as both Cassandra tables do; v1 stores held no orders (no build wrote
// any). Up to v2, created_at was in milliseconds (Cassandra's timestamp
// precision); migration 3 rewrote those keys.
var (
	keySchemaVersion = []byte("m/schema_version")
	keyLayout        = []byte("m/layout")
)

// layoutV1, layoutV2 and layoutV3 are what each version writes under
// m/layout, so a reader of the files (or a later build) can tell how the
// keys are laid out.
const (
	layoutV1 = `o/<order_id>; u/<user_id>\x00<created_at: unix ms, sign bit flipped, 16 hex digits>/<order_id>, read backwards for newest first`
	layoutV2 = layoutV1 + `; both hold the order as JSON`
	layoutV3 = `o/<order_id>; u/<user_id>\x00<created_at: unix µs, sign bit flipped, 16 hex digits>/<order_id>, read backwards for newest first; both hold the order as JSON`
)

func orderKey(orderID string) []byte { return []byte("o/" + orderID) }

// userPrefix is the range of one user's orders.
func userPrefix(userID string) []byte { return []byte("u/" + userID + "\x00") }

// usersPrefix is the range of every user's orders.
var usersPrefix = []byte("u/")

func userOrderKey(userID string, createdAt time.Time, orderID string) []byte {
	ts := uint64(createdAt.UnixMicro()) ^ (1 << 63)
	k := hex.AppendEncode(userPrefix(userID), binary.BigEndian.AppendUint64(nil, ts))
	return append(append(k, '/'), orderID...)
}

// levelDB is the embedded adapter.
type levelDB struct {
	db   *leveldb.DB
	path string
	// put makes each Put's read of the copies it replaces and its write
	// one step.
	put sync.Mutex
}

func openLevelDB(dataDir string) (*levelDB, error) {
	path := filepath.Join(dataDir, "history")
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("history: embedded store at %s: create directory: %w", path, err)
	}
	// A new directory starts an empty store.
	db, err := leveldb.OpenFile(path, nil)
	if errors.Is(err, syscall.EAGAIN) { // the lock, which LevelDB takes without waiting
		return nil, fmt.Errorf("history: embedded store at %s is in use: is another shopstream using this data dir? %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("history: embedded store at %s: open: %w", path, err)
	}
	return &levelDB{db: db, path: path}, nil
}

func (s *levelDB) String() string { return "embedded history store at " + s.path }

func (s *levelDB) migrations() []schema.Migration {
	return []schema.Migration{{
		Version: 1,
		Name:    "order keys by id and by user",
		Apply: func(context.Context) error {
			// Sync: the version recorded after this must never be on disk
			// without the layout it stands for.
			return s.db.Put(keyLayout, []byte(layoutV1), &opt.WriteOptions{Sync: true})
		},
	}, {
		Version: 2,
		Name:    "whole orders under both keys",
		Apply: func(context.Context) error {
			return s.db.Put(keyLayout, []byte(layoutV2), &opt.WriteOptions{Sync: true})
		},
	}, {
		Version: 3,
		Name:    "user keys by created_at to the microsecond",
		Apply:   s.rekeyUserOrders,
	}}
}

// rekeyBatch bounds the keys one batch of rekeyUserOrders moves.
const rekeyBatch = 1000

// rekeyUserOrders moves every user key to the one its order's created_at
// gives now (microseconds), in fsynced batches, then records the layout.
// The new key comes from the order the key holds, never from the old key,
// so a run cut short by a crash runs again cleanly: the keys already moved
// stay, the rest move. Puts wait meanwhile.
func (s *levelDB) rekeyUserOrders(ctx context.Context) error {
	s.put.Lock()
	defer s.put.Unlock()
	it := s.db.NewIterator(util.BytesPrefix(usersPrefix), nil)
	defer it.Release()
	b := new(leveldb.Batch)
	write := func() error {
		if err := s.db.Write(b, synced); err != nil {
			return fmt.Errorf("history: %s: move user keys to microseconds: %w", s, err)
		}
		b.Reset()
		return ctx.Err()
	}
	for it.Next() {
		o, err := decode(s.String()+" key "+string(it.Key()), it.Value())
		if err != nil {
			return err
		}
		if k := userOrderKey(o.UserID, o.CreatedAt, o.OrderID); !bytes.Equal(k, it.Key()) {
			// The batch copies both: the iterator may reuse them.
			b.Put(k, it.Value())
			b.Delete(it.Key())
		}
		if b.Len() >= rekeyBatch {
			if err := write(); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("history: %s: scan user keys: %w", s, err)
	}
	if err := write(); err != nil {
		return err
	}
	return s.db.Put(keyLayout, []byte(layoutV3), synced)
}

func (s *levelDB) Migrate(ctx context.Context) error { return s.migrateTo(ctx, len(s.migrations())) }

func (s *levelDB) migrateTo(ctx context.Context, version int) error {
	return schema.Migrate(ctx, s.String(), s, s.migrations()[:version])
}

func (s *levelDB) recorder() schema.Recorder { return s }

func (s *levelDB) SchemaVersion(ctx context.Context) (int, error) { return s.Version(ctx) }

// Version implements schema.Recorder.
func (s *levelDB) Version(context.Context) (int, error) {
	v, err := s.db.Get(keySchemaVersion, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("history: %s: read %s: %w", s, keySchemaVersion, err)
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, fmt.Errorf("history: %s: %s holds %q, not a version number", s, keySchemaVersion, v)
	}
	return n, nil
}

// Record implements schema.Recorder.
func (s *levelDB) Record(_ context.Context, m schema.Migration) error {
	if err := s.db.Put(keySchemaVersion, []byte(strconv.Itoa(m.Version)), &opt.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("history: %s: write %s: %w", s, keySchemaVersion, err)
	}
	return nil
}

// Health reads the version key: a real read through the engine.
func (s *levelDB) Health(context.Context) error {
	if _, err := s.db.Get(keySchemaVersion, nil); err != nil && !errors.Is(err, leveldb.ErrNotFound) {
		return fmt.Errorf("history: %s: %w", s, err)
	}
	return nil
}

// synced is how every order write goes: fsynced, so an order is on disk
// before the migration deletes it from the order-taking database.
var synced = &opt.WriteOptions{Sync: true}

// Put writes every order under both its keys in one batch, skipping a copy
// older than (or as old as) the one stored: what Cassandra's
// last-write-wins by updated_at keeps.
func (s *levelDB) Put(ctx context.Context, orders []orderdb.Order) error {
	if err := checkOrders(orders); err != nil {
		return err
	}
	// A caller that is gone gets nothing written, as from Cassandra.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("history: %s: put %d orders: %w", s, len(orders), err)
	}
	s.put.Lock()
	defer s.put.Unlock()
	b := new(leveldb.Batch)
	written := map[string]time.Time{} // by this batch
	for _, o := range orders {
		stored, ok := written[o.OrderID]
		if !ok {
			body, err := s.db.Get(orderKey(o.OrderID), nil)
			switch {
			case errors.Is(err, leveldb.ErrNotFound):
			case err != nil:
				return fmt.Errorf("history: %s: read order %s: %w", s, o.OrderID, err)
			default:
				old, err := decode(s.String()+" key "+string(orderKey(o.OrderID)), body)
				if err != nil {
					return err
				}
				stored, ok = old.UpdatedAt, true
			}
		}
		if ok && !o.UpdatedAt.After(stored) {
			continue
		}
		body, err := encode(o)
		if err != nil {
			return err
		}
		b.Put(orderKey(o.OrderID), body)
		b.Put(userOrderKey(o.UserID, o.CreatedAt, o.OrderID), body)
		written[o.OrderID] = o.UpdatedAt
	}
	if err := s.db.Write(b, synced); err != nil {
		return fmt.Errorf("history: %s: put %d orders: %w", s, len(orders), err)
	}
	return nil
}

func (s *levelDB) Order(_ context.Context, orderID string) (orderdb.Order, error) {
	body, err := s.db.Get(orderKey(orderID), nil)
	switch {
	case errors.Is(err, leveldb.ErrNotFound):
		return orderdb.Order{}, fmt.Errorf("history: order %s: %w", orderID, ErrNotFound)
	case err != nil:
		return orderdb.Order{}, fmt.Errorf("history: %s: read order %s: %w", s, orderID, err)
	}
	return decode(s.String()+" key "+string(orderKey(orderID)), body)
}

// UserOrders reads the user's range backwards from just before the
// cursor's key, one order more than the page.
func (s *levelDB) UserOrders(_ context.Context, userID string, before Cursor, limit int) ([]orderdb.Order, Cursor, error) {
	limit, err := checkPage(userID, limit)
	if err != nil {
		return nil, Cursor{}, err
	}
	it := s.db.NewIterator(util.BytesPrefix(userPrefix(userID)), nil)
	defer it.Release()
	var ok bool
	switch {
	case before.IsZero():
		ok = it.Last()
	case it.Seek(userOrderKey(userID, before.CreatedAt, before.OrderID)):
		ok = it.Prev()
	default: // every key of the user sorts before the cursor
		ok = it.Last()
	}
	var page []orderdb.Order
	for ; ok && len(page) <= limit; ok = it.Prev() {
		o, err := decode(s.String()+" key "+string(it.Key()), it.Value())
		if err != nil {
			return nil, Cursor{}, err
		}
		page = append(page, o)
	}
	if err := it.Error(); err != nil {
		return nil, Cursor{}, fmt.Errorf("history: %s: orders of user %s: %w", s, userID, err)
	}
	return cut(page, limit)
}

// EachOrder reads the o/ range from a snapshot the iterator holds, so
// fn may write meanwhile.
func (s *levelDB) EachOrder(_ context.Context, fn func(orderdb.Order) error) error {
	it := s.db.NewIterator(util.BytesPrefix(orderKey("")), nil)
	defer it.Release()
	for it.Next() {
		o, err := decode(s.String()+" key "+string(it.Key()), it.Value())
		if err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("history: %s: scan orders: %w", s, err)
	}
	return nil
}

// Close closes the files; a second Close is a no-op.
func (s *levelDB) Close() error {
	if err := s.db.Close(); err != nil && !errors.Is(err, leveldb.ErrClosed) {
		return fmt.Errorf("history: close %s: %w", s, err)
	}
	return nil
}
