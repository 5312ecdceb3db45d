package topics

import "time"

// Event type names. docs/events.md documents each one; a test keeps the two
// in step.
const (
	TypeSupplierItemUpserted    = "supplier.item.upserted"
	TypeSupplierStockLevel      = "supplier.stock.level"
	TypeDeadLetter              = "dead_letter"
	TypeCatalogItemChanged      = "catalog.item.changed"
	TypeInventoryItemChanged    = "inventory.item.changed"
	TypeListingChanged          = "listing.changed"
	TypeCartItemAdded           = "cart.item.added"
	TypeCartItemQuantitySet     = "cart.item.quantity_set"
	TypeCartItemRemoved         = "cart.item.removed"
	TypeCartCleared             = "cart.cleared"
	TypeWishlistItemAdded       = "wishlist.item.added"
	TypeWishlistItemRemoved     = "wishlist.item.removed"
	TypeWishlistItemMovedToCart = "wishlist.item.moved_to_cart"
	TypeOrderCreated            = "order.created"
	TypeOrderPlaced             = "order.placed"
	TypeOrderCanceled           = "order.canceled"
	TypeOrderRefunded           = "order.refunded"
	TypeOrderShipped            = "order.shipped"
	TypeOrderDelivered          = "order.delivered"
	TypePaymentSucceeded        = "payment.succeeded"
	TypePaymentFailed           = "payment.failed"
	TypePaymentRefunded         = "payment.refunded"
	TypeShipmentShipped         = "shipment.shipped"
	TypeShipmentDelivered       = "shipment.delivered"
	TypeMembershipTrialStarted  = "membership.trial_started"
	TypeMembershipConverted     = "membership.converted"
	TypeMembershipCanceled      = "membership.canceled"
	TypeSearchQueried           = "search.queried"
	TypeNotificationSent        = "notification.sent"

	// Membership commands: what the REST edge and checkout ask the
	// membership processor to do.
	TypeMembershipTrialRequested   = "membership.trial_requested"
	TypeMembershipConvertRequested = "membership.convert_requested"
	TypeMembershipCancelRequested  = "membership.cancel_requested"
)

// SupplierItemUpserted is a supplier's full description of one item.
type SupplierItemUpserted struct {
	SupplierID  string            `json:"supplier_id"`
	ItemID      string            `json:"item_id"`
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"`
	Category    string            `json:"category"`
	Brand       string            `json:"brand,omitempty"`
	PriceCents  int64             `json:"price_cents"`
	Currency    string            `json:"currency"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// SupplierStockLevel is the absolute on-hand count of one item in one
// warehouse, as the supplier last counted it.
type SupplierStockLevel struct {
	SupplierID  string `json:"supplier_id"`
	ItemID      string `json:"item_id"`
	WarehouseID string `json:"warehouse_id"`
	OnHand      int64  `json:"on_hand"`
}

// DeadLetter carries a rejected record with the reason it was rejected.
type DeadLetter struct {
	Reason    string `json:"reason"`
	Source    string `json:"source"`
	Topic     string `json:"topic,omitempty"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Original holds the rejected bytes exactly as received.
	Original []byte `json:"original"`
}

// CatalogItemChanged is the canonical item after a change.
type CatalogItemChanged struct {
	ItemID      string            `json:"item_id"`
	Version     int64             `json:"version"`
	SupplierID  string            `json:"supplier_id"`
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"`
	Category    string            `json:"category"`
	Brand       string            `json:"brand,omitempty"`
	PriceCents  int64             `json:"price_cents"`
	Currency    string            `json:"currency"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// InventoryItemChanged is an item's on-hand stock after a change.
type InventoryItemChanged struct {
	ItemID     string           `json:"item_id"`
	Version    int64            `json:"version"`
	Warehouses map[string]int64 `json:"warehouses"`
	OnHand     int64            `json:"on_hand"`
	// Delta is the change to OnHand this event made.
	Delta int64 `json:"delta"`
}

// Listing is an item as search shows it: the catalog item and its stock.
// Version grows by one with every catalog or inventory change applied, so
// an index keyed by item can refuse anything older than what it holds.
type Listing struct {
	ItemID           string            `json:"item_id"`
	Version          int64             `json:"version"`
	CatalogVersion   int64             `json:"catalog_version"`
	InventoryVersion int64             `json:"inventory_version"`
	SupplierID       string            `json:"supplier_id,omitempty"`
	Title            string            `json:"title,omitempty"`
	Description      string            `json:"description,omitempty"`
	Category         string            `json:"category,omitempty"`
	Brand            string            `json:"brand,omitempty"`
	PriceCents       int64             `json:"price_cents"`
	Currency         string            `json:"currency,omitempty"`
	Attributes       map[string]string `json:"attributes,omitempty"`
	OnHand           int64             `json:"on_hand"`
	// CreatedAt is when the catalog first saw the item (sort=newest).
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CartLine names an item and a quantity in a cart or wishlist command.
type CartLine struct {
	UserID   string `json:"user_id"`
	ItemID   string `json:"item_id"`
	Quantity int64  `json:"quantity,omitempty"`
	// PriceCents is the price shown when the line was added.
	PriceCents int64  `json:"price_cents,omitempty"`
	Currency   string `json:"currency,omitempty"`
}

// CartCleared empties a user's cart, for example when its order is
// created. With Lines (a checkout's) it takes out only those quantities:
// what the shopper added after the checkout read the cart stays.
type CartCleared struct {
	UserID  string        `json:"user_id"`
	OrderID string        `json:"order_id,omitempty"`
	Lines   []ClearedLine `json:"lines,omitempty"`
}

// ClearedLine is how many of an item a checkout took out of the cart.
type ClearedLine struct {
	ItemID   string `json:"item_id"`
	Quantity int64  `json:"quantity"`
}

// OrderLine is one line of an order with its price snapshot.
type OrderLine struct {
	ItemID     string `json:"item_id"`
	Quantity   int64  `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
}

// OrderCreated is written in the checkout transaction.
type OrderCreated struct {
	OrderID    string      `json:"order_id"`
	UserID     string      `json:"user_id"`
	Lines      []OrderLine `json:"lines"`
	TotalCents int64       `json:"total_cents"`
	Currency   string      `json:"currency"`
	ExpiresAt  time.Time   `json:"expires_at"`
	PrimeTrial bool        `json:"prime_trial,omitempty"`
}

// OrderTransition is any later step of an order's lifecycle.
type OrderTransition struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Reason  string `json:"reason,omitempty"`
	// Restocked is set on a cancel that returned the reserved stock.
	Restocked bool `json:"restocked,omitempty"`
	// AmountCents is the money moved, on refunds.
	AmountCents int64  `json:"amount_cents,omitempty"`
	Currency    string `json:"currency,omitempty"`
}

// Payment is a gateway outcome for one order.
type Payment struct {
	OrderID     string `json:"order_id"`
	PaymentID   string `json:"payment_id"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason,omitempty"`
}

// Shipment is a shipping step for one order.
type Shipment struct {
	OrderID  string `json:"order_id"`
	UserID   string `json:"user_id"`
	Carrier  string `json:"carrier,omitempty"`
	Tracking string `json:"tracking,omitempty"`
}

// MembershipTrialStarted records a Prime trial and the spend at signup
// (zero when the trial started without an order).
type MembershipTrialStarted struct {
	UserID          string    `json:"user_id"`
	TrialEndsAt     time.Time `json:"trial_ends_at"`
	SpendCents      int64     `json:"spend_cents"`
	Currency        string    `json:"currency"`
	OrderID         string    `json:"order_id,omitempty"`
	TrialPeriodDays int       `json:"trial_period_days"`
}

// MembershipTrialRequested asks for a Prime trial: from the REST edge
// without a purchase (spend 0), or from checkout with prime_trial, where
// the spend is the order's total and the order is named.
type MembershipTrialRequested struct {
	UserID     string `json:"user_id"`
	SpendCents int64  `json:"spend_cents"`
	Currency   string `json:"currency"`
	OrderID    string `json:"order_id,omitempty"`
}

// MembershipChanged is a conversion to full member or a cancellation, or
// a request for one (membership.convert_requested and
// membership.cancel_requested carry it too).
type MembershipChanged struct {
	UserID string `json:"user_id"`
	Reason string `json:"reason,omitempty"`
}

// SearchQueried is one search, with the ids shown and those clicked.
type SearchQueried struct {
	UserID     string            `json:"user_id,omitempty"`
	Query      string            `json:"query"`
	Filters    map[string]string `json:"filters,omitempty"`
	ResultIDs  []string          `json:"result_ids,omitempty"`
	ClickedIDs []string          `json:"clicked_ids,omitempty"`
}

// NotificationSent is one message to a user.
type NotificationSent struct {
	UserID  string `json:"user_id"`
	Kind    string `json:"kind"`
	OrderID string `json:"order_id,omitempty"`
	Message string `json:"message"`
}
