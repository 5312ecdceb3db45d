package topics

import (
	"fmt"
	"sort"
	"strconv"
)

// Cleanup is a topic's cleanup.policy.
type Cleanup string

// The cleanup policies the catalog uses.
const (
	Delete  Cleanup = "delete"
	Compact Cleanup = "compact"
)

// Topic declares one topic. It is the only place its settings are written.
type Topic struct {
	Name        string
	Partitions  int32
	Replication int16
	Cleanup     Cleanup
	// Key names the field records are keyed by, which decides partitioning.
	Key string
	// Types lists the event types the topic carries, in the order documented.
	Types []string
	// Configs are further topic configs that are declared and verified
	// (cleanup.policy is added from Cleanup).
	Configs map[string]string
	// Doc says what the topic is for and who writes it.
	Doc string
}

// AllConfigs returns the declared topic configs including cleanup.policy.
func (t Topic) AllConfigs() map[string]string {
	m := make(map[string]string, len(t.Configs)+1)
	for k, v := range t.Configs {
		m[k] = v
	}
	m["cleanup.policy"] = string(t.Cleanup)
	return m
}

// Topic names. Each topic has a single writer, named in its Doc.
const (
	SupplierItems    = "supplier.items"
	SupplierStock    = "supplier.stock"
	CatalogChanges   = "catalog.changes"
	InventoryChanges = "inventory.changes"
	Listings         = "listings"
	CartCommands     = "cart.commands"
	OrderEvents      = "order.events"
	PaymentEvents    = "payment.events"
	ShipmentEvents   = "shipment.events"
	MembershipEvents = "membership.events"
	SearchQueries    = "search.queries"
	Notifications    = "notifications"

	// MembershipCommands carries the requests the membership processor
	// decides on; MembershipEvents what it decided.
	MembershipCommands = "membership.commands"
)

// Settings size the catalog for one deployment.
type Settings struct {
	// Partitions for every keyed topic. All keyed topics share one count so
	// that goka processors can join them (copartitioning).
	Partitions int32
	// Replication factor for every topic.
	Replication int16
}

// Validate reports settings no broker could honour.
func (s Settings) Validate() error {
	if s.Partitions < 1 {
		return fmt.Errorf("topics: partitions must be at least 1, got %d", s.Partitions)
	}
	if s.Replication < 1 {
		return fmt.Errorf("topics: replication must be at least 1, got %d", s.Replication)
	}
	return nil
}

// Catalog returns every topic of the pipeline sized by s, sorted by name.
func Catalog(s Settings) []Topic {
	keyed := func(name string, cleanup Cleanup, key, doc string, types ...string) Topic {
		t := Topic{Name: name, Partitions: s.Partitions, Replication: s.Replication,
			Cleanup: cleanup, Key: key, Types: types, Doc: doc, Configs: map[string]string{}}
		if s.Replication >= 3 {
			// Acknowledged writes survive one broker loss.
			t.Configs["min.insync.replicas"] = "2"
		}
		return t
	}
	dlq := func(name, input string) Topic {
		t := keyed(name, Delete, "same key as the failed record",
			"Records from "+input+" that failed validation or decoding, with the reason, the source and the original bytes. Written by the consumer that rejected them.",
			TypeDeadLetter)
		// A dead letter is kept 30 days for an operator to inspect and replay.
		t.Configs["retention.ms"] = strconv.FormatInt(30*24*3600*1000, 10)
		return t
	}
	// The facts replays, backfills and reconcile read from the start are
	// kept for ever: a cohort backfill or a history rebuild needs the
	// whole record, not the broker's last week.
	forever := func(t Topic) Topic {
		t.Configs["retention.ms"] = "-1"
		return t
	}
	cat := []Topic{
		keyed(SupplierItems, Delete, "item_id",
			"Supplier item upserts, as sent by suppliers over HTTP, files or a direct Kafka producer. Written by ingest and by external supplier producers.",
			TypeSupplierItemUpserted),
		keyed(SupplierStock, Delete, "item_id",
			"Supplier stock levels per item and warehouse. Written by ingest and by external supplier producers.",
			TypeSupplierStockLevel),
		keyed(CatalogChanges, Delete, "item_id",
			"Canonical item changes with a monotonic version. Written by the catalog processor.",
			TypeCatalogItemChanged),
		keyed(InventoryChanges, Delete, "item_id",
			"On-hand stock per item and warehouse after each applied supplier event. Written by the inventory processor.",
			TypeInventoryItemChanged),
		keyed(Listings, Compact, "item_id",
			"The searchable listing of each item: the catalog item joined with its stock, with one version that only grows. Written by the listing processor; the search sink indexes it.",
			TypeListingChanged),
		keyed(CartCommands, Delete, "user_id",
			"Cart and wishlist commands. Written by the REST edge.",
			TypeCartItemAdded, TypeCartItemQuantitySet, TypeCartItemRemoved, TypeCartCleared,
			TypeWishlistItemAdded, TypeWishlistItemRemoved, TypeWishlistItemMovedToCart),
		forever(keyed(OrderEvents, Delete, "order_id",
			"Order lifecycle events. Written by the order-taking outbox relay.",
			TypeOrderCreated, TypeOrderPlaced, TypeOrderCanceled, TypeOrderRefunded,
			TypeOrderShipped, TypeOrderDelivered)),
		forever(keyed(PaymentEvents, Delete, "order_id",
			"Payment gateway outcomes. Written by the payment role.",
			TypePaymentSucceeded, TypePaymentFailed, TypePaymentRefunded)),
		forever(keyed(ShipmentEvents, Delete, "order_id",
			"Shipping progress. Written by the shipping role.",
			TypeShipmentShipped, TypeShipmentDelivered)),
		forever(keyed(MembershipCommands, Delete, "user_id",
			"Prime membership commands: start a trial, convert, cancel. Written by the REST edge, and by the order-taking outbox relay for a trial started at checkout (prime_trial).",
			TypeMembershipTrialRequested, TypeMembershipConvertRequested, TypeMembershipCancelRequested)),
		forever(keyed(MembershipEvents, Delete, "user_id",
			"Prime membership changes. Written by the membership processor.",
			TypeMembershipTrialStarted, TypeMembershipConverted, TypeMembershipCanceled)),
		keyed(SearchQueries, Delete, "user_id (or the query when anonymous)",
			"Every search and its clicks, for recommendations and analytics. Written by the search API.",
			TypeSearchQueried),
		keyed(Notifications, Delete, "user_id",
			"User notifications, one per order transition. Written by the order processor.",
			TypeNotificationSent),
	}
	// Every input has its own dead-letter topic, so a bad record never
	// blocks its partition and is never silently dropped.
	for _, t := range cat {
		cat = append(cat, dlq(DeadLetterTopic(t.Name), t.Name))
	}
	sort.Slice(cat, func(i, j int) bool { return cat[i].Name < cat[j].Name })
	return cat
}

// DeadLetterTopic names the dead-letter topic of an input topic.
func DeadLetterTopic(input string) string { return input + ".dlq" }

// Lookup returns the catalog topic with the given name.
func Lookup(cat []Topic, name string) (Topic, bool) {
	for _, t := range cat {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}
