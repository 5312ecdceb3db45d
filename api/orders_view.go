package api

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/api/rest"
	"github.com/shopstream/shopstream/sinks/history"
)

// The merged orders view: GET /v1/users/{user_id}/orders lists a user's
// orders wherever they live, the order-taking database (live) or the
// history store, as one list, newest first by (created_at, order_id)
// descending, both to the microsecond in both stores.
//
// A page reads the database first and history second, each from the same
// position, and merges the two. The migrator writes history before it
// deletes from the database, so an order the first read missed because it
// had already left the database is in history by the second read: no page
// skips an order. An order may be in both mid-migration; it shows once,
// the database's copy (history's is never newer). Positions are
// (created_at, order_id), which never change, so moving orders between
// the stores never shifts the pages after a cursor.

// viewCursor spells a position as the order-taking database spells its
// page cursor, base64url("<created_at µs>|<order_id>"), so the database
// reads the view's cursor as its own, and a cursor given out before the
// view merged history still works.
func viewCursor(c history.Cursor) string { return orderdb.EncodeCursor(c.CreatedAt, c.OrderID) }

// parseViewCursor reads a cursor viewCursor wrote.
func parseViewCursor(s string) (history.Cursor, error) {
	at, id, err := orderdb.DecodeCursor(s)
	if err != nil {
		return history.Cursor{}, rest.Errorf(http.StatusBadRequest, rest.CodeInvalidParameter, "cursor %q is not one this service gave", s)
	}
	return history.Cursor{CreatedAt: at, OrderID: id}, nil
}

// newestFirst orders two orders as the view lists them: created_at to the
// microsecond descending, then order id descending.
func newestFirst(a, b orderdb.Order) int {
	if c := cmp.Compare(b.CreatedAt.UnixMicro(), a.CreatedAt.UnixMicro()); c != 0 {
		return c
	}
	return strings.Compare(b.OrderID, a.OrderID)
}

// mergeOrders is one page of the view from a page of the database's orders
// (live) and one of history's (archived), both read after the same
// position with the same limit. It lists them newest first, each order
// once (the live copy of an order in both), up to limit. more says that
// either store has orders after its page; then, or when the merge holds
// more than limit, next is the position after the last order listed;
// otherwise it is zero: the last page.
func mergeOrders(live, archived []orderdb.Order, limit int, more bool) (page []orderdb.Order, next history.Cursor) {
	all := make([]orderdb.Order, 0, len(live)+len(archived))
	all = append(append(all, live...), archived...)
	// Stable: of two copies of one order, the live one stays first.
	slices.SortStableFunc(all, newestFirst)
	seen := make(map[string]bool, len(all))
	page = all[:0]
	for _, o := range all {
		if !seen[o.OrderID] {
			seen[o.OrderID] = true
			page = append(page, o)
		}
	}
	if len(page) > limit {
		page, more = page[:limit], true
	}
	if !more {
		return page, history.Cursor{}
	}
	return page, history.CursorOf(page[len(page)-1])
}

// userOrdersPage is a page of user's orders after cursor ("" for the
// first): the database's alone without history, as before the view
// merged them.
func (o *Orders) userOrdersPage(ctx context.Context, user, cursor string, limit int) ([]orderdb.Order, string, error) {
	if o.history == nil {
		return o.svc.Store().UserOrders(ctx, user, cursor, limit)
	}
	var before history.Cursor
	if cursor != "" {
		var err error
		if before, err = parseViewCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	// The database first: see the comment at the top.
	live, liveNext, err := o.svc.Store().UserOrders(ctx, user, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	archived, archivedNext, err := o.history.UserOrders(ctx, user, before, limit)
	if err != nil {
		return nil, "", o.historyUnavailable(err)
	}
	page, next := mergeOrders(live, archived, limit, liveNext != "" || !archivedNext.IsZero())
	if next.IsZero() {
		return page, "", nil
	}
	return page, viewCursor(next), nil
}

// historyUnavailable is a failed history read as the client sees it: a
// logged 503 it may retry.
func (o *Orders) historyUnavailable(err error) error {
	o.log.Error("order history store failed", "err", err)
	return rest.Errorf(http.StatusServiceUnavailable, rest.CodeUnavailable, "the order history store is not answering; retry")
}
