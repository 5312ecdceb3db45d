package search

import (
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/datetime/flexible"
	"github.com/blevesearch/bleve/v2/analysis/datetime/optional"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"
)

// kind is how a field of an item is indexed, whatever the engine.
type kind int

const (
	// exact: one case-sensitive term, for filters, facets and sort.
	exact kind = iota
	// fullText: words, by Elasticsearch's standard analyzer (Unicode word
	// boundaries, lower-cased, no stop words).
	fullText
	// title: fullText, plus a subfield <name>.keyword holding the whole
	// value lower-cased, for exact matches and alphabetical sort.
	title
	// integer: a 64-bit integer (money in minor units, counts).
	integer
	// boolean: true or false.
	boolean
	// timestamp: an RFC 3339 date-time.
	timestamp
	// exactMap: an object of string values, each indexed as an exact term
	// under <name>.<key>, for supplier attributes whose keys nobody
	// declares in advance.
	exactMap
)

// field is one indexed field of an item.
type field struct {
	name string
	kind kind
	// stored: kept for Get and search hits, read by no query, so neither
	// engine indexes it. Bleve indexes a number as 16 terms and keeps as
	// many doc values: a third of its index for four unread fields.
	stored bool
}

// itemFields is the items index's v1 mapping; both adapters build theirs
// from it. Fields not listed are kept in the document (Elasticsearch
// _source) but not indexed. document (document.go) fills them from a
// topics.Listing.
var itemFields = []field{
	{"item_id", exact, false},
	{"supplier_id", exact, false},
	{"title", title, false},
	{"description", fullText, false},
	{"category", exact, false},
	{"brand", exact, false},
	{"price_cents", integer, false},
	{"currency", exact, false},
	{"in_stock", boolean, false},
	{"on_hand", integer, true},
	// listed: the catalog has described the item (it has a title). Stock
	// can arrive first; such a listing is indexed but never shown.
	{"listed", boolean, false},
	// version: the listing's version, also Elasticsearch's external
	// version; Bleve compares it on write.
	{"version", integer, false},
	{"catalog_version", integer, true},
	{"inventory_version", integer, true},
	{"created_at", timestamp, false},
	{"updated_at", timestamp, true},
	{"attributes", exactMap, false},
}

// esItemsMapping is the Elasticsearch mapping of the items index, with meta
// as its _meta.
func esItemsMapping(meta map[string]any) map[string]any {
	props := map[string]any{}
	for _, f := range itemFields {
		switch f.kind {
		case exact:
			props[f.name] = map[string]any{"type": "keyword"}
		case fullText:
			props[f.name] = map[string]any{"type": "text", "analyzer": "standard"}
		case title:
			props[f.name] = map[string]any{"type": "text", "analyzer": "standard", "fields": map[string]any{
				// lowercase is a built-in normalizer (no analysis-common needed).
				"keyword": map[string]any{"type": "keyword", "normalizer": "lowercase", "ignore_above": 512},
			}}
		case integer:
			props[f.name] = map[string]any{"type": "long"}
		case boolean:
			props[f.name] = map[string]any{"type": "boolean"}
		case timestamp:
			props[f.name] = map[string]any{"type": "date", "format": "strict_date_optional_time"}
		case exactMap:
			// One field for any number of keys: no mapping explosion from
			// supplier attributes. Part of the server since 8.0 (x-pack in 7.x).
			props[f.name] = map[string]any{"type": "flattened"}
		}
		if f.stored {
			props[f.name].(map[string]any)["index"] = false
			props[f.name].(map[string]any)["doc_values"] = false
		}
	}
	return map[string]any{
		"_meta": meta,
		// Unlisted fields are stored, not indexed, as in Bleve.
		"dynamic":    false,
		"properties": props,
	}
}

// Names registered in the Bleve index mapping.
const (
	// bleveText is Elasticsearch's standard analyzer: Bleve's own
	// "standard" also drops English stop words, which would change what
	// "the" finds and every field length BM25 divides by.
	bleveText             = "es_standard"
	bleveKeywordLowercase = "keyword_lowercase"
	// bleveRowField holds, in a Bleve document only, what its table row
	// needs beyond its doc values: how many words its text fields have,
	// for BM25's average field length, then its version and created_at
	// (bleveTableOnly). The name is from when it held the lengths alone.
	bleveRowField = "text_lengths"
	// bleveNoDates parses nothing: Bleve would index a dynamic string that
	// looks like a date as a date, where Elasticsearch's flattened keeps
	// every attribute value a keyword.
	bleveNoDates = "no_dates"
)

// bleveTableOnly are the fields Bleve stores but does not index: no
// query of the contract reads them, and the table (bleve_table.go) gets
// them from bleveRowField, which costs one term where a number costs
// sixteen. Indexing version and created_at took two fifths of the index,
// every page of which the process maps.
var bleveTableOnly = map[string]bool{"version": true, "created_at": true}

// bleveItemsMapping is the Bleve mapping closest to esItemsMapping: BM25
// scoring, the standard analyzer, keyword fields stored with doc values,
// no term vectors (no query reads positions), bleveTableOnly fields only
// stored.
func bleveItemsMapping() *mapping.IndexMappingImpl { return bleveMapping(false) }

// bleveItemsMappingV1 is the mapping indexes made before the current one
// have: every field indexed, with term vectors. They hold the same
// documents and serve the same queries, so they stay as they are.
func bleveItemsMappingV1() *mapping.IndexMappingImpl { return bleveMapping(true) }

func bleveMapping(v1 bool) *mapping.IndexMappingImpl {
	field := func(fm *mapping.FieldMapping, analyzer string, f field) *mapping.FieldMapping {
		fm = bleveField(fm, analyzer, f)
		if !v1 {
			fm.IncludeTermVectors = false
			if bleveTableOnly[f.name] {
				fm.Index, fm.DocValues = false, false
			}
		}
		return fm
	}
	im := mapping.NewIndexMapping()
	im.ScoringModel = index.BM25Scoring
	// Lower-cased words; and the whole value lower-cased, the equivalent
	// of Elasticsearch's lowercase normalizer.
	for name, tokenizer := range map[string]string{bleveText: unicode.Name, bleveKeywordLowercase: single.Name} {
		def := map[string]any{"type": custom.Name, "tokenizer": tokenizer, "token_filters": []any{lowercase.Name}}
		if err := im.AddCustomAnalyzer(name, def); err != nil {
			panic(err) // a fixed, valid definition
		}
	}
	im.DefaultAnalyzer = bleveText
	if err := im.AddCustomDateTimeParser(bleveNoDates, map[string]any{"type": flexible.Name, "layouts": []any{}}); err != nil {
		panic(err)
	}
	im.DefaultDateTimeParser = bleveNoDates

	// Nothing sorts or facets on attributes.
	im.DocValuesDynamic = false

	doc := mapping.NewDocumentStaticMapping()
	for _, f := range itemFields {
		switch f.kind {
		case exact:
			doc.AddFieldMappingsAt(f.name, field(mapping.NewKeywordFieldMapping(), keyword.Name, f))
		case fullText:
			doc.AddFieldMappingsAt(f.name, field(mapping.NewTextFieldMapping(), bleveText, f))
		case title:
			sub := field(mapping.NewTextFieldMapping(), bleveKeywordLowercase, f)
			sub.Name = f.name + ".keyword"
			sub.Store = false // like a multi-field, which is not in _source
			doc.AddFieldMappingsAt(f.name, field(mapping.NewTextFieldMapping(), bleveText, f), sub)
		case integer:
			doc.AddFieldMappingsAt(f.name, field(mapping.NewNumericFieldMapping(), "", f))
		case boolean:
			doc.AddFieldMappingsAt(f.name, field(mapping.NewBooleanFieldMapping(), "", f))
		case timestamp:
			fm := field(mapping.NewDateTimeFieldMapping(), "", f)
			fm.DateFormat = optional.Name
			doc.AddFieldMappingsAt(f.name, fm)
		case exactMap:
			sub := mapping.NewDocumentMapping() // dynamic: any key
			sub.DefaultAnalyzer = keyword.Name
			doc.AddSubDocumentMapping(f.name, sub)
		}
	}
	// Bookkeeping of the table (bleve_table.go), indexed so that its doc
	// values survive segment merges.
	row := mapping.NewKeywordFieldMapping()
	row.Store, row.IncludeInAll = false, false
	row.IncludeTermVectors = v1
	doc.AddFieldMappingsAt(bleveRowField, row)
	im.DefaultMapping = doc
	return im
}

// bleveQueryAnalyzer is the analyzer a Bleve match query on field must
// name itself, or "" to let Bleve pick. Bleve reads "title.keyword" as a
// path into title and would pick title's full-text analyzer.
func bleveQueryAnalyzer(field string) string {
	for _, f := range itemFields {
		if f.kind == title && field == f.name+".keyword" {
			return bleveKeywordLowercase
		}
	}
	return ""
}

// bleveField stores the value of f (Bleve has no _source), keeps doc
// values for sorting and facets, and leaves the field out of the composite
// _all field, which Elasticsearch does not have. A stored field is only
// stored.
func bleveField(fm *mapping.FieldMapping, analyzer string, f field) *mapping.FieldMapping {
	fm.Analyzer = analyzer
	fm.Store = true
	fm.DocValues = fm.Type != "text" || analyzer != bleveText
	fm.IncludeInAll = false
	if f.stored {
		fm.Index, fm.DocValues = false, false
	}
	return fm
}
