package topics

import (
	"encoding/json"
	"fmt"
	"sort"
)

type typeInfo struct {
	// name is the type's name, which decoding hands out instead of
	// allocating a copy per record.
	name    string
	version int
	decode  func(json.RawMessage) (any, error)
	check   func(any) error
}

// registry maps each event type to its current schema version and Go type.
var registry = map[string]typeInfo{}

func register[T any](version int, names ...string) {
	for _, name := range names {
		registry[name] = typeInfo{
			name:    name,
			version: version,
			decode: func(raw json.RawMessage) (any, error) {
				var v T
				if err := json.Unmarshal(raw, &v); err != nil {
					return nil, err
				}
				return v, nil
			},
			check: func(v any) error {
				if _, ok := v.(T); !ok {
					var want T
					return fmt.Errorf("data is %T, want %T", v, want)
				}
				return nil
			},
		}
	}
}

func init() {
	register[SupplierItemUpserted](1, TypeSupplierItemUpserted)
	register[SupplierStockLevel](1, TypeSupplierStockLevel)
	register[DeadLetter](1, TypeDeadLetter)
	register[CatalogItemChanged](1, TypeCatalogItemChanged)
	register[InventoryItemChanged](1, TypeInventoryItemChanged)
	register[Listing](1, TypeListingChanged)
	register[CartLine](1, TypeCartItemAdded, TypeCartItemQuantitySet, TypeCartItemRemoved,
		TypeWishlistItemAdded, TypeWishlistItemRemoved, TypeWishlistItemMovedToCart)
	register[CartCleared](1, TypeCartCleared)
	register[OrderCreated](1, TypeOrderCreated)
	register[OrderTransition](1, TypeOrderPlaced, TypeOrderCanceled, TypeOrderRefunded,
		TypeOrderShipped, TypeOrderDelivered)
	register[Payment](1, TypePaymentSucceeded, TypePaymentFailed, TypePaymentRefunded)
	register[Shipment](1, TypeShipmentShipped, TypeShipmentDelivered)
	register[MembershipTrialStarted](1, TypeMembershipTrialStarted)
	register[MembershipChanged](1, TypeMembershipConverted, TypeMembershipCanceled,
		TypeMembershipConvertRequested, TypeMembershipCancelRequested)
	register[MembershipTrialRequested](1, TypeMembershipTrialRequested)
	register[SearchQueried](1, TypeSearchQueried)
	register[NotificationSent](1, TypeNotificationSent)
}

// Types returns every registered event type, sorted.
func Types() []string {
	out := make([]string, 0, len(registry))
	for name := range registry {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// SchemaVersion returns the schema version this build writes for typ.
func SchemaVersion(typ string) (int, bool) {
	info, ok := registry[typ]
	return info.version, ok
}
