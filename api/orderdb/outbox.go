package orderdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/topics"
)

// outboxRow is an event to write to the outbox in the transaction that
// makes it true.
type outboxRow struct {
	topic, key, eventID string
	value               []byte
	at                  time.Time
}

// newOutboxRow encodes an event of type typ keyed by key for topic, at
// time at.
func newOutboxRow(topic, typ, key string, data any, at time.Time) (outboxRow, error) {
	ev, err := topics.New(typ, key, data, topics.At(at))
	if err != nil {
		return outboxRow{}, err
	}
	b, err := topics.Encode(ev)
	if err != nil {
		return outboxRow{}, err
	}
	return outboxRow{topic: topic, key: key, eventID: ev.ID, value: b, at: at}, nil
}

var outboxColumns = []string{"topic", "record_key", "event_id", "value", "created_at"}

// writeOutbox appends rows to the outbox in their order.
func writeOutbox(ctx context.Context, q querier, rows []outboxRow) error {
	vals := make([]any, 0, len(rows)*len(outboxColumns))
	for _, r := range rows {
		vals = append(vals, r.topic, r.key, r.eventID, r.value, r.at)
	}
	return insertRows(ctx, q, "outbox", outboxColumns, vals)
}

func (s *sqlStore) PendingOutbox(ctx context.Context, limit int) ([]OutboxRecord, error) {
	if limit <= 0 {
		return nil, invalidf("orderdb: read the outbox: limit %d is not positive", limit)
	}
	var out []OutboxRecord
	err := each(ctx, s.DB(), "SELECT seq, topic, record_key, event_id, value, created_at FROM outbox ORDER BY seq LIMIT ?", []any{limit},
		func(rows *sql.Rows) error {
			var r OutboxRecord
			if err := rows.Scan(&r.Seq, &r.Topic, &r.Key, &r.EventID, &r.Value, &r.CreatedAt); err != nil {
				return err
			}
			r.CreatedAt = r.CreatedAt.UTC()
			out = append(out, r)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("orderdb: read the outbox: %w", err)
	}
	return out, nil
}

// MarkPublished deletes the records; seqs already gone are ignored, so a
// relay that marks twice does no harm.
func (s *sqlStore) MarkPublished(ctx context.Context, seqs []int64) error {
	return chunks(seqs, idChunk, func(part []int64) error {
		if _, err := s.DB().ExecContext(ctx, "DELETE FROM outbox WHERE seq IN ("+placeholders(len(part))+")", anys(part)...); err != nil {
			return fmt.Errorf("orderdb: delete %d published outbox records: %w", len(part), err)
		}
		return nil
	})
}

func (s *sqlStore) OutboxBacklog(ctx context.Context) (n int64, oldest time.Time, err error) {
	err = s.read(ctx, func(q querier) error {
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox").Scan(&n); err != nil {
			return err
		}
		err := q.QueryRowContext(ctx, "SELECT created_at FROM outbox ORDER BY seq LIMIT 1").Scan(&oldest)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		oldest = oldest.UTC()
		return err
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("orderdb: measure the outbox backlog: %w", err)
	}
	return n, oldest, nil
}
