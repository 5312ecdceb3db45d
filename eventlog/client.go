package eventlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ClientOpts are the franz-go options every shopstream client starts from.
func ClientOpts(brokers []string, clientID string, dialTimeout time.Duration, log *slog.Logger) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.DialTimeout(dialTimeout),
		// Fail a request after a bounded time rather than retrying forever
		// against a broker that is gone.
		kgo.RetryTimeout(time.Minute),
		// A consumer that rejoins its group sometimes has its first fetch
		// left waiting by the embedded broker until the fetch's max wait
		// even though records arrive (5s by default): orders would wait
		// for payment that long. Half a second bounds it; on Kafka it only
		// means an idle consumer asks twice a second.
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if log != nil {
		opts = append(opts, kgo.WithLogger(slogLogger{log}))
	}
	return opts
}

// Ping checks that the brokers answer a metadata request within timeout,
// naming the addresses when they do not.
func Ping(ctx context.Context, cl *kgo.Client, brokers []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := kadm.NewClient(cl).BrokerMetadata(ctx); err != nil {
		return fmt.Errorf("eventlog: Kafka at %s did not answer within %s: %w", strings.Join(brokers, ","), timeout, err)
	}
	return nil
}

// slogLogger adapts slog to kgo.Logger, logging only warnings and errors.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (s slogLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	s.l.Log(context.Background(), lv, "kafka: "+msg, kv...)
}
