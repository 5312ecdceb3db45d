package reconcile

import (
	"strings"
	"testing"

	"github.com/shopstream/shopstream/lifecycle"
)

func order(id string, st lifecycle.Status, units map[string]int64) Order {
	return Order{OrderID: id, UserID: "u-1", Status: st, Units: units}
}

func TestAgreeingSidesHaveNoDifferences(t *testing.T) {
	orders := map[string]Order{
		"o-1": order("o-1", lifecycle.Placed, map[string]int64{"i-1": 2}),
		"o-2": order("o-2", lifecycle.Canceled, map[string]int64{"i-1": 5}),
		"o-3": order("o-3", lifecycle.Delivered, map[string]int64{"i-1": 1, "i-2": 1}),
	}
	db := DB{Stock: map[string]Stock{"i-1": {OnHand: 10, Committed: 3}, "i-2": {OnHand: 1, Committed: 1}, "i-3": {}}, Orders: orders}
	stream := Stream{OnHand: map[string]int64{"i-1": 10, "i-2": 1}, Orders: orders}
	if d := Compare(db, stream); len(d) != 0 {
		t.Fatalf("differences %v", d)
	}
}

func TestEveryKindOfDifferenceIsReported(t *testing.T) {
	db := DB{
		Stock: map[string]Stock{"i-1": {OnHand: 10, Committed: 3}},
		Orders: map[string]Order{
			"o-1": order("o-1", lifecycle.Placed, map[string]int64{"i-1": 2}),
			"o-2": order("o-2", lifecycle.Created, map[string]int64{"i-1": 1}),
			"o-4": order("o-4", lifecycle.Canceled, map[string]int64{"i-1": 1}),
		},
	}
	stream := Stream{
		OnHand: map[string]int64{"i-1": 9},
		Orders: map[string]Order{
			"o-1": order("o-1", lifecycle.Created, map[string]int64{"i-1": 3}),
			"o-3": order("o-3", lifecycle.Created, map[string]int64{"i-1": 1}),
			"o-4": {OrderID: "o-4", UserID: "u-2", Status: lifecycle.Canceled, Units: map[string]int64{"i-1": 1}},
		},
	}
	var got []string
	for _, d := range Compare(db, stream) {
		got = append(got, d.String())
	}
	want := []string{
		"stock i-1: on_hand is 10 in the database, 9 in the inventory table",
		"stock i-1: committed is 3 in the database, but the order table's orders hold 4",
		"order o-1: is placed in the database, created in the order table",
		"order o-1: lines are [i-1 x2] in the database, [i-1 x3] in the order table",
		"order o-2: is created in the database and missing from the order table",
		"order o-3: is created in the order table and missing from the database",
		"order o-4: belongs to user u-1 in the database, u-2 in the order table",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCommittedMustMatchTheDatabasesOwnOrders(t *testing.T) {
	orders := map[string]Order{"o-1": order("o-1", lifecycle.Created, map[string]int64{"i-1": 2})}
	db := DB{Stock: map[string]Stock{"i-1": {OnHand: 5, Committed: 3}}, Orders: orders}
	d := Compare(db, Stream{OnHand: map[string]int64{"i-1": 5}, Orders: orders})
	if len(d) != 2 || !strings.Contains(d[0].Detail, "database's orders hold 2") {
		t.Fatalf("differences %v", d)
	}
}

// An order in both stores is a difference, whether or not the copies
// agree; history's delivered orders still hold their stock.
func TestAnOrderInBothStoresIsADifference(t *testing.T) {
	delivered := order("o-1", lifecycle.Delivered, map[string]int64{"i-1": 2})
	canceled := order("o-2", lifecycle.Canceled, map[string]int64{"i-1": 1})
	refunded := order("o-2", lifecycle.Refunded, map[string]int64{"i-1": 1})
	db := DB{
		Stock:   map[string]Stock{"i-1": {OnHand: 5, Committed: 2}},
		Orders:  map[string]Order{"o-1": delivered, "o-2": refunded},
		History: map[string]Order{"o-1": delivered, "o-2": canceled},
	}
	stream := Stream{OnHand: map[string]int64{"i-1": 5}, Orders: map[string]Order{"o-1": delivered, "o-2": refunded}}
	want := []string{
		"order o-1: is in both the database and history, the same copy: a migration has yet to delete it from the database",
		"order o-2: is in both the database and history: refunded of user u-1 with [i-1 x1] in the database, canceled of user u-1 with [i-1 x1] in history",
	}
	if got := lines(Compare(db, stream)); got != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}

	// Once migrated, history's copy is compared, and holds its stock.
	db.Orders = map[string]Order{}
	db.History["o-2"] = refunded
	if d := Compare(db, stream); len(d) != 0 {
		t.Fatalf("differences %v", d)
	}
	delete(db.History, "o-1")
	want = []string{
		"stock i-1: committed is 2, but the database's orders hold 0",
		"order o-1: is delivered in the order table and missing from the database and history",
	}
	if got := lines(Compare(db, stream)); got != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

func lines(diffs []Difference) string {
	var out []string
	for _, d := range diffs {
		out = append(out, d.String())
	}
	return strings.Join(out, "\n")
}
