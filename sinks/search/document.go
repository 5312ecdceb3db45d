package search

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/topics"
)

// document is the indexed form of a listing, the same for both engines:
// its fields under their JSON names plus what filters need (in_stock,
// listed). Empty strings and zero times are left out, so that neither
// engine counts an empty brand as a facet value or sorts a missing date
// as year 1.
func document(l topics.Listing) map[string]any {
	d := map[string]any{
		"item_id":           l.ItemID,
		"version":           l.Version,
		"catalog_version":   l.CatalogVersion,
		"inventory_version": l.InventoryVersion,
		"price_cents":       l.PriceCents,
		"on_hand":           l.OnHand,
		"in_stock":          inStock(l),
		"listed":            listed(l),
	}
	for name, v := range map[string]string{
		"supplier_id": l.SupplierID, "title": l.Title, "description": l.Description,
		"category": l.Category, "brand": l.Brand, "currency": l.Currency,
	} {
		if v != "" {
			d[name] = v
		}
	}
	for name, t := range map[string]time.Time{"created_at": l.CreatedAt, "updated_at": l.UpdatedAt} {
		if !t.IsZero() {
			// A string: Bleve gives a time.Time back in the first layout
			// of its parser, without the fraction of a second, and a
			// string back in the layout that parsed it.
			d[name] = t.UTC().Format(time.RFC3339Nano)
		}
	}
	if len(l.Attributes) > 0 {
		attrs := make(map[string]any, len(l.Attributes))
		for k, v := range l.Attributes {
			attrs[k] = v
		}
		d["attributes"] = attrs
	}
	return d
}

// appendDocument appends document(l) as JSON, written by hand: encoding
// the map by reflection was half the client's CPU of a bulk index into
// Elasticsearch. A test holds the two to the same JSON.
func appendDocument(b []byte, l topics.Listing) []byte {
	b = append(b, `{"item_id":`...)
	b = topics.AppendJSONString(b, l.ItemID)
	for _, f := range []struct {
		name string
		v    int64
	}{{`,"version":`, l.Version}, {`,"catalog_version":`, l.CatalogVersion}, {`,"inventory_version":`, l.InventoryVersion},
		{`,"price_cents":`, l.PriceCents}, {`,"on_hand":`, l.OnHand}} {
		b = strconv.AppendInt(append(b, f.name...), f.v, 10)
	}
	b = strconv.AppendBool(append(b, `,"in_stock":`...), inStock(l))
	b = strconv.AppendBool(append(b, `,"listed":`...), listed(l))
	for _, f := range []struct{ name, v string }{{`,"supplier_id":`, l.SupplierID}, {`,"title":`, l.Title},
		{`,"description":`, l.Description}, {`,"category":`, l.Category}, {`,"brand":`, l.Brand}, {`,"currency":`, l.Currency}} {
		if f.v != "" {
			b = topics.AppendJSONString(append(b, f.name...), f.v)
		}
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{`,"created_at":"`, l.CreatedAt}, {`,"updated_at":"`, l.UpdatedAt}} {
		if !f.t.IsZero() {
			b = append(f.t.UTC().AppendFormat(append(b, f.name...), time.RFC3339Nano), '"')
		}
	}
	if len(l.Attributes) > 0 {
		b = topics.AppendJSONMap(append(b, `,"attributes":`...), l.Attributes, topics.AppendJSONString)
	}
	return append(b, '}')
}

// inStock: default searches show only these.
func inStock(l topics.Listing) bool { return l.OnHand > 0 }

// listed: the catalog has described the item. Stock can arrive before the
// catalog item; such a listing is indexed but never shown.
func listed(l topics.Listing) bool { return l.Title != "" }

// reject says why a listing can never be indexed, or "".
func reject(l topics.Listing) string {
	switch {
	case l.ItemID == "":
		return "listing has no item_id"
	case l.Version < 1:
		// Elasticsearch's external versions, and the order of writes,
		// need a version that grows from 1.
		return fmt.Sprintf("listing %s has version %d; versions start at 1", l.ItemID, l.Version)
	}
	return ""
}

// listingFromFields rebuilds a listing from a document's fields as Bleve
// stores them: attributes flat as attributes.<key>, numbers as float64,
// times as RFC 3339 strings. Whatever JSON decodes into a Listing does.
func listingFromFields(fields map[string]any) (topics.Listing, error) {
	d := make(map[string]any, len(fields))
	attrs := map[string]any{}
	for k, v := range fields {
		if key, ok := strings.CutPrefix(k, "attributes."); ok {
			attrs[key] = v
			continue
		}
		d[k] = v
	}
	if len(attrs) > 0 {
		d["attributes"] = attrs
	}
	var l topics.Listing
	b, err := json.Marshal(d)
	if err == nil {
		err = json.Unmarshal(b, &l)
	}
	if err != nil {
		return topics.Listing{}, fmt.Errorf("search: rebuild listing %v from its stored fields: %w", fields["item_id"], err)
	}
	return l, nil
}
