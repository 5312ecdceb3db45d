package processors

import (
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// tableWait bounds how long a new processor waits for its table topic.
const tableWait = 30 * time.Second

// awaitTable waits until every partition of a table topic answers a
// ListOffsets request. goka creates a missing table topic and waits until
// metadata lists it, but Apache Kafka lists a new topic before its
// partition leaders serve it, and a processor whose table partition does
// not answer fails at start: "Error getting oldest offset for topic/
// partition ...: Tried to send a message to a replica that is not the
// leader". Seen on Kafka 4.3 when a group first starts.
func (r *Runtime) awaitTable(table string) error {
	client, err := sarama.NewClient(r.brokers, SaramaConfig(r.dialTimeout))
	if err != nil {
		return fmt.Errorf("processors: connect to check table %s: %w", table, err)
	}
	defer client.Close()
	deadline := time.Now().Add(tableWait)
	for {
		err = tableAnswers(client, table)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processors: table %s not served after %s: %w", table, tableWait, err)
		}
		time.Sleep(100 * time.Millisecond)
		// The next attempt must not reuse the stale leaders.
		_ = client.RefreshMetadata(table)
	}
}

func tableAnswers(client sarama.Client, table string) error {
	parts, err := client.Partitions(table)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := client.GetOffset(table, p, sarama.OffsetOldest); err != nil {
			return fmt.Errorf("partition %d: %w", p, err)
		}
	}
	return nil
}
