// Package api is shopstream's REST edge: the catalog reads (items with live
// stock), admin item writes, product search with facets and suggestions,
// and, as their issues land, carts, checkout, orders and membership. It
// reads through goka views and the search index, writes by producing
// events, and speaks the error conventions of package api/rest.
package api
