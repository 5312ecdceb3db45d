package rest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/api/rest"
)

type body struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func TestDecodeRefusesBadBodiesWithCodes(t *testing.T) {
	cases := []struct {
		body, ctype string
		status      int
		code        string
	}{
		{`{"name":"a","count":1}`, "application/json", 0, ""},
		{``, "", 400, rest.CodeInvalidJSON},
		{`{"name":`, "", 400, rest.CodeInvalidJSON},
		{`{"name":"a"}{"name":"b"}`, "", 400, rest.CodeInvalidJSON},
		{`{"name":"a","extra":1}`, "", 400, rest.CodeInvalidJSON},
		{`{"count":"many"}`, "", 400, rest.CodeInvalidJSON},
		{`{"name":"` + strings.Repeat("x", 200) + `"}`, "", 413, rest.CodeBodyTooLarge},
		{`name=a`, "application/x-www-form-urlencoded", 415, rest.CodeUnsupportedMedia},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		if c.ctype != "" {
			r.Header.Set("Content-Type", c.ctype)
		}
		var b body
		err := rest.Decode(httptest.NewRecorder(), r, 100, &b)
		switch {
		case c.status == 0 && err != nil:
			t.Errorf("%q refused: %v", c.body, err)
		case c.status != 0 && (err == nil || err.Status != c.status || err.Code != c.code):
			t.Errorf("%q: got %+v, want %d %s", c.body, err, c.status, c.code)
		}
	}
}

func TestWriteErrorShapesAndHidesInternals(t *testing.T) {
	rec := httptest.NewRecorder()
	rest.WriteError(rec, nil, rest.Errorf(http.StatusNotFound, rest.CodeNotFound, "item %q not found", "x").WithDetails(map[string]string{"item_id": "x"}))
	var got struct {
		Error struct {
			Code, Message string
			Details       map[string]string
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 404 || got.Error.Code != "not_found" || got.Error.Details["item_id"] != "x" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	rest.WriteError(rec, nil, errors.New("db password wrong"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "password") || !strings.Contains(rec.Body.String(), `"code":"internal"`) {
		t.Fatalf("internal error leaked or misshaped: %d %s", rec.Code, rec.Body)
	}
}
