// Package rest holds the REST edge's JSON conventions, shared by every
// handler: the error body {"error": {"code", "message", "details"}} with a
// machine-readable code and the right 4xx/5xx status, strict bounded JSON
// decoding that turns any bad body into a 4xx, and JSON responses.
package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// Machine-readable error codes.
const (
	CodeInvalidJSON      = "invalid_json"
	CodeBodyTooLarge     = "body_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeValidation       = "validation_failed"
	CodeInvalidParameter = "invalid_parameter"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// Error is an API error: an HTTP status, a code and a message, with
// optional structured details.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetails returns e with details attached.
func (e *Error) WithDetails(d any) *Error { e.Details = d; return e }

// JSON writes v with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes err as the error body. An error that is not an *Error
// is a 500 whose cause is logged, not shown.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if log != nil {
			log.Error("request failed", "err", err)
		}
		e = Errorf(http.StatusInternalServerError, CodeInternal, "internal error")
	}
	JSON(w, e.Status, map[string]*Error{"error": e})
}

// Decode reads one JSON value of at most limit bytes into v, refusing
// unknown fields, trailing data and non-JSON content types.
func Decode(w http.ResponseWriter, r *http.Request, limit int64, v any) *Error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type %q is not application/json", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "body holds more than one JSON value")
	}
	return nil
}

func decodeError(err error, limit int64) *Error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "body is larger than %d bytes", limit)
	case errors.As(err, &syntax):
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "empty body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "body ends in the middle of a JSON value")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return Errorf(http.StatusBadRequest, CodeInvalidJSON, "%v", err)
}
