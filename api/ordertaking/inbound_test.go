package ordertaking

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/eventlog"
	"github.com/shopstream/shopstream/lifecycle"
	"github.com/shopstream/shopstream/sinks/history"
	"github.com/shopstream/shopstream/topics"
)

// A payment that answers after its order was canceled and moved to
// history still refunds it: the applier puts the order back, applies the
// payment (order.refunded in the outbox, for the payment role to pay the
// money back) and moves the refunded order to history again.
func TestInboundLatePaymentOfAnOrderInHistory(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	hist, err := history.Open(ctx, config.HistoryStore{Driver: "embedded"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hist.Close() })
	if err := hist.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ApplyStock(ctx, orderdb.StockChange{EventID: topics.NewID(), ItemID: "item-a", OnHand: 10, Version: 1}); err != nil {
		t.Fatal(err)
	}
	res, err := store.Checkout(ctx, orderdb.CheckoutRequest{UserID: "user-1", Currency: "USD", TTL: time.Minute,
		Lines: []orderdb.Line{{ItemID: "item-a", Quantity: 2, PriceCents: 700}}})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.OrderID
	if _, err := store.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	// The migrator's two steps.
	canceled, err := store.Order(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := hist.Put(ctx, []orderdb.Order{canceled}); err != nil {
		t.Fatal(err)
	}
	if n, err := store.DeleteOrders(ctx, []orderdb.Order{canceled}); err != nil || n != 1 {
		t.Fatalf("delete: %d, %v", n, err)
	}
	drainOutbox(t, store)

	svc := NewService(store, nil, nil, Limits{}, WithHistory(hist))
	in := &Inbound{svc: svc, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ev, err := topics.New(topics.TypePaymentSucceeded, id, topics.Payment{OrderID: id, PaymentID: "pay-late", AmountCents: 1400, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	batch := []eventlog.Delivery{{Event: ev, Record: &kgo.Record{Topic: topics.PaymentEvents}}}
	for range 2 { // the second is a redelivery: nothing more happens
		if err := in.handle(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Order(ctx, id); err == nil {
		t.Fatal("the refunded order stayed in the database")
	}
	got, err := hist.Order(ctx, id)
	if err != nil || got.Status != lifecycle.Refunded || got.Version != canceled.Version+1 || got.PaymentID != "pay-late" {
		t.Fatalf("history holds %+v, %v; want the order refunded", got, err)
	}
	recs, err := store.PendingOutbox(ctx, 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("outbox: %d records, %v; want order.refunded alone", len(recs), err)
	}
	out, err := topics.Decode(recs[0].Value)
	if err != nil || out.Type != topics.TypeOrderRefunded || out.Data.(topics.OrderTransition).AmountCents != 1400 {
		t.Fatalf("outbox holds %+v, %v", out, err)
	}
	if s, _, err := store.Stock(ctx, "item-a"); err != nil || s.Committed != 0 {
		t.Fatalf("stock after the refund: %+v, %v", s, err)
	}
}

func drainOutbox(t *testing.T, store orderdb.Store) {
	t.Helper()
	recs, err := store.PendingOutbox(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]int64, len(recs))
	for i, r := range recs {
		seqs[i] = r.Seq
	}
	if err := store.MarkPublished(context.Background(), seqs); err != nil {
		t.Fatal(err)
	}
}
