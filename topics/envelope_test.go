package topics_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/topics"
)

var when = time.Date(2026, 11, 23, 10, 4, 5, 123456789, time.UTC)

// samples holds one realistic value per registered type.
func samples() map[string]any {
	line := topics.CartLine{UserID: "u-1", ItemID: "item-9", Quantity: 2, PriceCents: 89999, Currency: "USD"}
	move := topics.OrderTransition{OrderID: "o-1", UserID: "u-1", Reason: "payment failed", Restocked: true}
	pay := topics.Payment{OrderID: "o-1", PaymentID: "p-1", AmountCents: 179998, Currency: "USD"}
	ship := topics.Shipment{OrderID: "o-1", UserID: "u-1", Carrier: "UPS", Tracking: "1Z"}
	member := topics.MembershipChanged{UserID: "u-1"}
	return map[string]any{
		topics.TypeSupplierItemUpserted: topics.SupplierItemUpserted{SupplierID: "s-1", ItemID: "item-9", Title: "Sony 65\" TV", Category: "electronics",
			Brand: "Sony", PriceCents: 89999, Currency: "USD", Attributes: map[string]string{"resolution": "4K"}},
		topics.TypeSupplierStockLevel:   topics.SupplierStockLevel{SupplierID: "s-1", ItemID: "item-9", WarehouseID: "w-1", OnHand: 5},
		topics.TypeDeadLetter:           topics.DeadLetter{Reason: "bad", Source: "ingest", Topic: "supplier.items", Partition: 2, Offset: 7, Original: []byte{0xff, 0}},
		topics.TypeCatalogItemChanged:   topics.CatalogItemChanged{ItemID: "item-9", Version: 3, SupplierID: "s-1", Title: "TV", Category: "electronics", PriceCents: 1, Currency: "EUR"},
		topics.TypeInventoryItemChanged: topics.InventoryItemChanged{ItemID: "item-9", Version: 4, Warehouses: map[string]int64{"w-1": 5, "w-2": 0}, OnHand: 5, Delta: -1},
		topics.TypeListingChanged: topics.Listing{ItemID: "item-9", Version: 7, CatalogVersion: 3, InventoryVersion: 4, SupplierID: "s-1", Title: "TV",
			Category: "electronics", PriceCents: 89999, Currency: "USD", OnHand: 5, CreatedAt: when, UpdatedAt: when.Add(time.Hour)},
		topics.TypeCartItemAdded:           line,
		topics.TypeCartItemQuantitySet:     line,
		topics.TypeCartItemRemoved:         line,
		topics.TypeWishlistItemAdded:       line,
		topics.TypeWishlistItemRemoved:     line,
		topics.TypeWishlistItemMovedToCart: line,
		topics.TypeCartCleared:             topics.CartCleared{UserID: "u-1", OrderID: "o-1"},
		topics.TypeOrderCreated: topics.OrderCreated{OrderID: "o-1", UserID: "u-1", Lines: []topics.OrderLine{{ItemID: "item-9", Quantity: 2, PriceCents: 89999}},
			TotalCents: 179998, Currency: "USD", ExpiresAt: when.Add(5 * time.Minute), PrimeTrial: true},
		topics.TypeOrderPlaced:                move,
		topics.TypeOrderCanceled:              move,
		topics.TypeOrderRefunded:              topics.OrderTransition{OrderID: "o-1", UserID: "u-1", AmountCents: 179998, Currency: "USD"},
		topics.TypeOrderShipped:               move,
		topics.TypeOrderDelivered:             move,
		topics.TypePaymentSucceeded:           pay,
		topics.TypePaymentFailed:              pay,
		topics.TypePaymentRefunded:            pay,
		topics.TypeShipmentShipped:            ship,
		topics.TypeShipmentDelivered:          ship,
		topics.TypeMembershipTrialStarted:     topics.MembershipTrialStarted{UserID: "u-1", TrialEndsAt: when.AddDate(0, 0, 30), SpendCents: 10001, Currency: "USD", OrderID: "o-1", TrialPeriodDays: 30},
		topics.TypeMembershipConverted:        member,
		topics.TypeMembershipCanceled:         member,
		topics.TypeMembershipTrialRequested:   topics.MembershipTrialRequested{UserID: "u-1", SpendCents: 10001, Currency: "USD", OrderID: "o-1"},
		topics.TypeMembershipConvertRequested: member,
		topics.TypeMembershipCancelRequested:  member,
		topics.TypeSearchQueried:              topics.SearchQueried{UserID: "u-1", Query: "tv", Filters: map[string]string{"brand": "Sony"}, ResultIDs: []string{"item-9"}},
		topics.TypeNotificationSent:           topics.NotificationSent{UserID: "u-1", Kind: "order.placed", OrderID: "o-1", Message: "Your order was placed"},
	}
}

func TestRoundTripEveryType(t *testing.T) {
	s := samples()
	for _, typ := range topics.Types() {
		data, ok := s[typ]
		if !ok {
			t.Errorf("%s: no sample; add one", typ)
			continue
		}
		ev, err := topics.New(typ, "key-"+typ, data, topics.At(when))
		if err != nil {
			t.Fatalf("%s: new: %v", typ, err)
		}
		b, err := topics.Encode(ev)
		if err != nil {
			t.Fatalf("%s: encode: %v", typ, err)
		}
		got, err := topics.Decode(b)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", typ, b, err)
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("%s: round trip\n got %#v\nwant %#v", typ, got, ev)
		}
		var generic map[string]any
		if err := json.Unmarshal(b, &generic); err != nil {
			t.Fatalf("%s: envelope is not plain JSON: %v", typ, err)
		}
		for _, k := range []string{"id", "type", "version", "occurred_at", "key", "data"} {
			if _, ok := generic[k]; !ok {
				t.Errorf("%s: envelope lacks %q: %s", typ, k, b)
			}
		}
	}
}

func TestEventIDsAreUniqueAndTimeOrdered(t *testing.T) {
	prev := ""
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := topics.NewID()
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		if id < prev {
			t.Fatalf("id %s sorts before the earlier %s", id, prev)
		}
		prev = id
	}
}

func TestEncodeEscapesKeys(t *testing.T) {
	ev, err := topics.New(topics.TypeCartCleared, "quote\" back\\ nl\n é", topics.CartCleared{UserID: "u"}, topics.At(when))
	if err != nil {
		t.Fatal(err)
	}
	b, err := topics.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := topics.Decode(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if got.Key != ev.Key {
		t.Fatalf("key %q came back as %q", ev.Key, got.Key)
	}
}

func TestDecodeErrorsAreTyped(t *testing.T) {
	valid := `{"id":"e1","type":"cart.cleared","version":1,"occurred_at":"2026-01-01T00:00:00Z","key":"u","data":{"user_id":"u"}}`
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", topics.ErrMalformed},
		{"not json", "{", topics.ErrMalformed},
		{"null", "null", topics.ErrMalformed},
		{"array", "[1]", topics.ErrMalformed},
		{"no id", strings.Replace(valid, `"e1"`, `""`, 1), topics.ErrMalformed},
		{"no type", strings.Replace(valid, `"cart.cleared"`, `""`, 1), topics.ErrMalformed},
		{"version zero", strings.Replace(valid, `"version":1`, `"version":0`, 1), topics.ErrMalformed},
		{"no time", strings.Replace(valid, `"occurred_at":"2026-01-01T00:00:00Z",`, ``, 1), topics.ErrMalformed},
		{"data not object", strings.Replace(valid, `{"user_id":"u"}`, `"u"`, 1), topics.ErrMalformed},
		{"data wrong field type", strings.Replace(valid, `{"user_id":"u"}`, `{"user_id":5}`, 1), topics.ErrMalformed},
		{"unknown type", strings.Replace(valid, `"cart.cleared"`, `"cart.exploded"`, 1), topics.ErrUnknownType},
		{"newer version", strings.Replace(valid, `"version":1`, `"version":2`, 1), topics.ErrNewerVersion},
	}
	if _, err := topics.Decode([]byte(valid)); err != nil {
		t.Fatalf("valid envelope refused: %v", err)
	}
	for _, c := range cases {
		_, err := topics.Decode([]byte(c.in))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		var de *topics.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%s: %T is not a *DecodeError", c.name, err)
		}
	}
}

func TestNewRefusesWrongDataAndUnknownType(t *testing.T) {
	if _, err := topics.New(topics.TypeOrderCreated, "o", topics.CartCleared{}); err == nil {
		t.Error("order.created accepted CartCleared data")
	}
	if _, err := topics.New("no.such.type", "k", topics.CartCleared{}); !errors.Is(err, topics.ErrUnknownType) {
		t.Errorf("unknown type: got %v", err)
	}
}

func TestMoneyFormatsWithoutFloats(t *testing.T) {
	cases := map[topics.Money]string{
		{AmountCents: 10001, Currency: "USD"}: "USD 100.01",
		{AmountCents: 5, Currency: "EUR"}:     "EUR 0.05",
		{AmountCents: -250, Currency: "GBP"}:  "GBP -2.50",
		{AmountCents: 1200, Currency: "JPY"}:  "JPY 1200",
	}
	for m, want := range cases {
		if got := m.String(); got != want {
			t.Errorf("%+v: got %q, want %q", m, got, want)
		}
	}
	if err := (topics.Money{AmountCents: 1, Currency: "XXX"}).Validate(); err == nil {
		t.Error("unknown currency accepted")
	}
	if err := (topics.Money{AmountCents: -1, Currency: "USD"}).Validate(); err == nil {
		t.Error("negative amount accepted")
	}
}

// docs/events.md must document every event type and every topic.
func TestDocsCoverCatalog(t *testing.T) {
	doc, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range topics.Types() {
		if !strings.Contains(string(doc), "### `"+typ+"`") {
			t.Errorf("docs/events.md has no section for event type %s", typ)
		}
	}
	for _, tp := range topics.Catalog(topics.Settings{Partitions: 1, Replication: 1}) {
		name := tp.Name
		if strings.HasSuffix(name, ".dlq") {
			name = "<topic>.dlq" // one row documents every dead-letter topic
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/events.md does not mention topic %s", tp.Name)
		}
	}
}

func TestCatalogDeclaresEveryTypeOnATopic(t *testing.T) {
	cat := topics.Catalog(topics.Settings{Partitions: 6, Replication: 3})
	carried := map[string]bool{}
	for _, tp := range cat {
		if tp.Partitions != 6 || tp.Replication != 3 || tp.Cleanup == "" || tp.Key == "" || len(tp.Types) == 0 {
			t.Errorf("%s is under-declared: %+v", tp.Name, tp)
		}
		if tp.Configs["min.insync.replicas"] != "2" {
			t.Errorf("%s: replication 3 without min.insync.replicas=2", tp.Name)
		}
		for _, typ := range tp.Types {
			if _, ok := topics.SchemaVersion(typ); !ok {
				t.Errorf("%s carries unregistered type %s", tp.Name, typ)
			}
			carried[typ] = true
		}
		if !strings.HasSuffix(tp.Name, ".dlq") {
			if _, ok := topics.Lookup(cat, topics.DeadLetterTopic(tp.Name)); !ok {
				t.Errorf("%s has no dead-letter topic", tp.Name)
			}
		}
	}
	for _, typ := range topics.Types() {
		if !carried[typ] {
			t.Errorf("type %s is carried by no topic", typ)
		}
	}
}
