package topics

import (
	"testing"
	"time"
)

// benchEvents are the records of order.events and membership.events as the
// analytics sink reads them, one per type.
func benchEvents() []Event {
	at := At(time.Date(2026, 3, 9, 14, 2, 7, 123456789, time.UTC))
	expires := time.Date(2026, 3, 9, 14, 17, 7, 123456000, time.UTC)
	move := OrderTransition{OrderID: "0195a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b", UserID: "user-48213"}
	return []Event{
		must(New(TypeOrderCreated, move.OrderID, OrderCreated{OrderID: move.OrderID, UserID: move.UserID,
			Lines:      []OrderLine{{ItemID: "item-1942", Quantity: 2, PriceCents: 4999}, {ItemID: "item-77", Quantity: 1, PriceCents: 12900}},
			TotalCents: 22898, Currency: "USD", ExpiresAt: expires, PrimeTrial: true}, at)),
		must(New(TypeOrderPlaced, move.OrderID, move, at)),
		must(New(TypeOrderCanceled, move.OrderID, OrderTransition{OrderID: move.OrderID, UserID: move.UserID, Reason: "payment failed", Restocked: true}, at)),
		must(New(TypeOrderRefunded, move.OrderID, OrderTransition{OrderID: move.OrderID, UserID: move.UserID, Reason: "paid after expiry",
			AmountCents: 22898, Currency: "USD"}, at)),
		must(New(TypeOrderShipped, move.OrderID, move, at)),
		must(New(TypeOrderDelivered, move.OrderID, move, at)),
		must(New(TypeMembershipTrialStarted, move.UserID, MembershipTrialStarted{UserID: move.UserID, TrialEndsAt: expires.AddDate(0, 0, 30),
			SpendCents: 22898, Currency: "USD", OrderID: move.OrderID, TrialPeriodDays: 30}, at)),
		must(New(TypeMembershipConverted, move.UserID, MembershipChanged{UserID: move.UserID}, at)),
		must(New(TypeMembershipCanceled, move.UserID, MembershipChanged{UserID: move.UserID, Reason: "too expensive"}, at)),
	}
}

// BenchmarkDecode decodes each record type of order.events and
// membership.events: fast is Decode, general the encoding/json path it
// falls back to.
//
//	go test ./topics -run '^$' -bench Decode -benchmem
func BenchmarkDecode(b *testing.B) {
	for _, ev := range benchEvents() {
		rec := must(Encode(ev))
		for _, path := range []struct {
			name   string
			decode func([]byte) (Event, error)
		}{{"fast", Decode}, {"general", decodeGeneral}} {
			b.Run(ev.Type+"/"+path.name, func(b *testing.B) {
				b.SetBytes(int64(len(rec)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := path.decode(rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
