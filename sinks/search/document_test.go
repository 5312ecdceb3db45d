package search

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/shopstream/shopstream/topics"
)

// TestAppendDocumentWritesTheDocument: the hand-written JSON Elasticsearch
// gets is the document Bleve indexes, for generated listings and for
// empty fields, zero times, attributes, escapes and a time zone.
func TestAppendDocumentWritesTheDocument(t *testing.T) {
	listings := generate(300)
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("X", 3600))
	listings = append(listings,
		topics.Listing{ItemID: "bare", Version: 1},
		topics.Listing{ItemID: `q"<&>\é`, Version: 9, Title: "Tab\there \u2028", Brand: "<b>", OnHand: -1, PriceCents: 0,
			Attributes: map[string]string{"b": "2", "a": `"1"`, "ü": "x"}, CreatedAt: at, UpdatedAt: at.Add(time.Hour)},
		topics.Listing{ItemID: "one-attr", Version: 2, Attributes: map[string]string{"color": "red"}, UpdatedAt: at})
	for _, l := range listings {
		var got, want map[string]any
		if err := json.Unmarshal(appendDocument(nil, l), &got); err != nil {
			t.Fatalf("%s: appendDocument wrote invalid JSON: %v: %s", l.ItemID, err, appendDocument(nil, l))
		}
		b, _ := json.Marshal(document(l))
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\nhand %v\nwant %v", l.ItemID, got, want)
		}
	}
}
