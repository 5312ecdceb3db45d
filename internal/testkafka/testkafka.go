// Package testkafka gives integration tests a Kafka to talk to over the
// real protocol: the broker named by SHOPSTREAM_TEST_KAFKA (a real Apache
// Kafka, as `make test-real` sets it), or else a fresh embedded broker.
package testkafka

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/broker"
)

// EnvVar names the real broker list, comma-separated.
const EnvVar = "SHOPSTREAM_TEST_KAFKA"

// Real reports the real brokers from the environment, if any.
func Real() ([]string, bool) {
	v := os.Getenv(EnvVar)
	if v == "" {
		return nil, false
	}
	return strings.Split(v, ","), true
}

// Brokers returns the real brokers if configured, else starts an embedded
// broker that lives until the test ends.
func Brokers(t testing.TB) []string {
	t.Helper()
	if b, ok := Real(); ok {
		return b
	}
	b, err := broker.Start(filepath.Join(t.TempDir(), "kafka"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return []string{b.Addr()}
}

// Unique returns prefix with a random suffix, for group and topic names
// that must not collide with earlier runs on a long-lived real broker.
func Unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
