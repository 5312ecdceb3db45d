package orderdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/shopstream/shopstream/ingest"
	"github.com/shopstream/shopstream/lifecycle"
)

// InboundEvent is one outside event for ApplyEvents: exactly one field is
// set.
type InboundEvent struct {
	Stock    *StockChange
	Payment  *PaymentOutcome
	Shipment *ShipmentStep
}

// InboundResult is what ApplyEvents did with one event. Err refuses the
// event alone and for good: ErrInvalid, or ErrOrderNotFound for an order
// the database never took; such an event is not recorded as processed.
// Applied.Duplicate is an event id applied before. For a payment or a
// shipment, Applied.Order is the order right after the event.
type InboundResult struct {
	Applied
	Err error
}

// inboundChunk bounds the events of one transaction: a poll of thousands
// of stock events must not hold locks for seconds.
const inboundChunk = 500

// id is the event's id; check has vouched for it.
func (e InboundEvent) id() string {
	switch {
	case e.Stock != nil:
		return e.Stock.EventID
	case e.Payment != nil:
		return e.Payment.EventID
	}
	return e.Shipment.EventID
}

// OrderID is the order a payment or a shipment names ("" for stock).
func (e InboundEvent) OrderID() string {
	if e.Stock != nil {
		return ""
	}
	id, _, _ := e.order()
	return id
}

// order is the order id and the lifecycle step of a payment or a shipment.
func (e InboundEvent) order() (id string, st lifecycle.Step, paymentID string) {
	if p := e.Payment; p != nil {
		if p.Succeeded {
			return p.OrderID, lifecycle.PaymentSucceeded, p.PaymentID
		}
		return p.OrderID, lifecycle.PaymentFailed, ""
	}
	if e.Shipment.Delivered {
		return e.Shipment.OrderID, lifecycle.Deliver, ""
	}
	return e.Shipment.OrderID, lifecycle.Ship, ""
}

// check refuses an event the database could never apply.
func (e InboundEvent) check() error {
	switch {
	case e.Stock != nil:
		c := e.Stock
		if err := checkID("event id", c.EventID, 64); err != nil {
			return err
		}
		if !ingest.IsID(c.ItemID) {
			return invalidf("orderdb: stock event %s: item id %q is not an id", c.EventID, c.ItemID)
		}
		if c.OnHand < 0 {
			return invalidf("orderdb: stock event %s sets item %s to %d units, below zero", c.EventID, c.ItemID, c.OnHand)
		}
		return nil
	case e.Payment != nil:
		if len(e.Payment.PaymentID) > 128 {
			return invalidf("orderdb: payment id %q is longer than 128 bytes", e.Payment.PaymentID)
		}
	case e.Shipment == nil:
		return invalidf("orderdb: an inbound event with no stock, payment or shipment")
	}
	if err := checkID("event id", e.id(), 64); err != nil {
		return err
	}
	id, _, _ := e.order()
	return checkID("order id", id, 64)
}

// ApplyEvents applies events in order, each exactly once by event id, a
// chunk of them per transaction: one commit instead of one per event.
func (s *sqlStore) ApplyEvents(ctx context.Context, evs []InboundEvent) ([]InboundResult, error) {
	out := make([]InboundResult, len(evs))
	for i := range evs {
		out[i].Err = evs[i].check()
	}
	for start := 0; start < len(evs); start += inboundChunk {
		end := min(start+inboundChunk, len(evs))
		var got []InboundResult
		// A duplicate event id is another applier that recorded the event
		// first: run again, and see it recorded.
		again := func(err error) bool { return s.d.retryable(err) || s.d.duplicate(err) }
		err := retry(ctx, again, func() error {
			return s.tx(ctx, s.d.txOptions, func(tx *sql.Tx) error {
				got = slices.Clone(out[start:end]) // the checks, without a failed try's results
				return s.applyInbound(ctx, tx, evs[start:end], got)
			})
		})
		if err != nil {
			return nil, fmt.Errorf("orderdb: apply events %d to %d of %d (from %s): %w", start, end-1, len(evs), evs[start].id(), err)
		}
		copy(out[start:end], got)
	}
	return out, nil
}

// applyInbound applies evs in tx and fills res, which holds their checks.
// Several events of one order apply in turn: a change is written before
// the order's next event is decided.
func (s *sqlStore) applyInbound(ctx context.Context, tx *sql.Tx, evs []InboundEvent, res []InboundResult) error {
	var ids, orderIDs []string
	for i, e := range evs {
		if res[i].Err == nil {
			ids = append(ids, e.id())
			if e.Stock == nil {
				id, _, _ := e.order()
				orderIDs = append(orderIDs, id)
			}
		}
	}
	seen, err := processedAmong(ctx, tx, ids)
	if err != nil {
		return err
	}
	slices.Sort(orderIDs) // rows lock in id order, as everywhere
	loaded, err := loadOrders(ctx, tx, s.d, slices.Compact(orderIDs), true, true)
	if err != nil {
		return err
	}
	orders := make(map[string]*Order, len(loaded))
	for i := range loaded {
		orders[loaded[i].OrderID] = &loaded[i]
	}

	var fresh []any
	stock := map[string]*StockChange{} // the newest version per item
	var round []change
	var waiting []int // results of round, filled once it is written
	inRound := map[string]bool{}
	flush := func() error {
		if err := applyChanges(ctx, tx, round); err != nil {
			return err
		}
		for _, i := range waiting {
			id, _, _ := evs[i].order()
			res[i].Order = *orders[id]
		}
		round, waiting = round[:0], waiting[:0]
		clear(inRound)
		return nil
	}
	// fill gives result i its order now, or once the round holding a
	// change of the order is written.
	fill := func(i int, id string) {
		if inRound[id] {
			waiting = append(waiting, i)
		} else {
			res[i].Order = *orders[id]
		}
	}
	at := now()
	for i, e := range evs {
		if res[i].Err != nil {
			continue
		}
		if seen[e.id()] {
			res[i].Duplicate = true
			if e.Stock == nil {
				id, _, _ := e.order()
				if o := orders[id]; o != nil {
					res[i].Effect = lifecycle.Effect{Next: o.Status}
					fill(i, id)
				}
			}
			continue
		}
		if c := e.Stock; c != nil {
			if cur := stock[c.ItemID]; cur == nil || c.Version > cur.Version {
				stock[c.ItemID] = c
			}
			seen[c.EventID] = true
			fresh = append(fresh, c.EventID, at)
			continue
		}
		id, st, paymentID := e.order()
		o := orders[id]
		if o == nil {
			res[i].Err = fmt.Errorf("orderdb: %s event %s for order %s: %w", st, e.id(), id, ErrOrderNotFound)
			continue
		}
		if inRound[id] {
			if err := flush(); err != nil {
				return err
			}
		}
		eff, err := lifecycle.Next(o.Status, st)
		if err != nil {
			return fmt.Errorf("apply %s event %s to order %s: %w", st, e.id(), id, err)
		}
		seen[e.id()] = true
		fresh = append(fresh, e.id(), at)
		res[i].Effect = eff
		if eff.Changed {
			round = append(round, change{o: o, e: eff, paymentID: paymentID})
			inRound[id] = true
		}
		fill(i, id)
	}
	if err := flush(); err != nil {
		return err
	}
	items := make([]string, 0, len(stock))
	for item := range stock {
		items = append(items, item)
	}
	slices.Sort(items)
	for _, item := range items {
		c := stock[item]
		if _, err := tx.ExecContext(ctx, s.d.upsertStock, c.ItemID, c.OnHand, c.Version, at); err != nil {
			return fmt.Errorf("set stock of item %s from event %s: %w", c.ItemID, c.EventID, err)
		}
	}
	// A concurrent applier that recorded one of these first makes this
	// insert fail and the whole transaction roll back (see ApplyEvents).
	return insertRows(ctx, tx, "processed_events", []string{"event_id", "processed_at"}, fresh)
}

// processedAmong is the subset of ids recorded as processed.
func processedAmong(ctx context.Context, q querier, ids []string) (map[string]bool, error) {
	seen := make(map[string]bool, len(ids))
	err := chunks(ids, idChunk, func(part []string) error {
		return each(ctx, q, "SELECT event_id FROM processed_events WHERE event_id IN ("+placeholders(len(part))+")", anys(part),
			func(rows *sql.Rows) error {
				var id string
				err := rows.Scan(&id)
				seen[id] = true
				return err
			})
	})
	if err != nil {
		return nil, fmt.Errorf("read processed events: %w", err)
	}
	return seen, nil
}

// applyOne is ApplyEvents of one event, its refusal as the error.
func (s *sqlStore) applyOne(ctx context.Context, e InboundEvent) (Applied, error) {
	res, err := s.ApplyEvents(ctx, []InboundEvent{e})
	if err != nil {
		return Applied{}, err
	}
	return res[0].Applied, res[0].Err
}

func (s *sqlStore) ApplyStock(ctx context.Context, c StockChange) (bool, error) {
	a, err := s.applyOne(ctx, InboundEvent{Stock: &c})
	return err == nil && !a.Duplicate, err
}

func (s *sqlStore) ApplyPayment(ctx context.Context, p PaymentOutcome) (Applied, error) {
	return s.applyOne(ctx, InboundEvent{Payment: &p})
}

func (s *sqlStore) ApplyShipment(ctx context.Context, sh ShipmentStep) (Applied, error) {
	return s.applyOne(ctx, InboundEvent{Shipment: &sh})
}
