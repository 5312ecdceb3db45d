package history

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/shopstream/shopstream/internal/schema"
)

// The embedded store's keys. Metadata lives under "m/"; v1 adds the
// orders, laid out so that the reads Cassandra answers from its two tables
// are one Get and one reverse range scan here:
//
//	o/<order_id>                                      an order (orders_by_id)
//	u/<user_id> 0x00 <created_at> / <order_id>        a user's order (orders_by_user)
//
// created_at is Unix milliseconds (Cassandra's timestamp precision) with
// the sign bit flipped, as 16 hex digits, so keys sort by time. A user's
// orders, newest first, are the prefix "u/<user_id>" 0x00 read backwards:
// that also orders equal times by order_id descending, exactly like
// orders_by_user's CLUSTERING ORDER BY (created_at DESC, order_id DESC).
// The 0x00 ends the user id, so one user's prefix never covers another's.
var (
	keySchemaVersion = []byte("m/schema_version")
	keyLayout        = []byte("m/layout")
)

// layoutV1 is what v1 writes under m/layout, so a reader of the files (or a
// later build) can tell how the keys are laid out.
const layoutV1 = `o/<order_id>; u/<user_id>\x00<created_at: unix ms, sign bit flipped, 16 hex digits>/<order_id>, read backwards for newest first`

func orderKey(orderID string) []byte { return []byte("o/" + orderID) }

// userPrefix is the range of one user's orders.
func userPrefix(userID string) []byte { return []byte("u/" + userID + "\x00") }

func userOrderKey(userID string, createdAt time.Time, orderID string) []byte {
	ts := uint64(createdAt.UnixMilli()) ^ (1 << 63)
	k := hex.AppendEncode(userPrefix(userID), binary.BigEndian.AppendUint64(nil, ts))
	return append(append(k, '/'), orderID...)
}

// levelDB is the embedded adapter.
type levelDB struct {
	db   *leveldb.DB
	path string
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
	}}
}

func (s *levelDB) Migrate(ctx context.Context) error {
	return schema.Migrate(ctx, s.String(), s, s.migrations())
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

// Close closes the files; a second Close is a no-op.
func (s *levelDB) Close() error {
	if err := s.db.Close(); err != nil && !errors.Is(err, leveldb.ErrClosed) {
		return fmt.Errorf("history: close %s: %w", s, err)
	}
	return nil
}
