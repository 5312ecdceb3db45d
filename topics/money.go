package topics

import (
	"fmt"
	"strconv"
)

// Money is an amount in integer minor units (cents for USD) of an ISO 4217
// currency. Floats never carry money anywhere in shopstream.
type Money struct {
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
}

// minorUnits lists the currencies shopstream accepts with their number of
// minor-unit digits.
var minorUnits = map[string]int{
	"USD": 2, "EUR": 2, "GBP": 2, "INR": 2, "CAD": 2, "AUD": 2, "CHF": 2,
	"CNY": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "BRL": 2, "MXN": 2,
	"SGD": 2, "HKD": 2, "NZD": 2, "ZAR": 2, "JPY": 0, "KRW": 0,
}

// KnownCurrency reports whether code is an accepted ISO 4217 code.
func KnownCurrency(code string) bool {
	_, ok := minorUnits[code]
	return ok
}

// Validate reports a negative amount or an unknown currency.
func (m Money) Validate() error {
	if !KnownCurrency(m.Currency) {
		return fmt.Errorf("unknown currency %q", m.Currency)
	}
	if m.AmountCents < 0 {
		return fmt.Errorf("negative amount %d", m.AmountCents)
	}
	return nil
}

// String formats the amount in major units, e.g. "USD 12.34", without
// going through a float.
func (m Money) String() string {
	digits, ok := minorUnits[m.Currency]
	if !ok || digits == 0 {
		return m.Currency + " " + strconv.FormatInt(m.AmountCents, 10)
	}
	sign, a := "", m.AmountCents
	if a < 0 {
		sign, a = "-", -a
	}
	scale := int64(1)
	for i := 0; i < digits; i++ {
		scale *= 10
	}
	return fmt.Sprintf("%s %s%d.%0*d", m.Currency, sign, a/scale, digits, a%scale)
}
