package eventlog

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

// MonitorLag sets gauge (labels group, topic, partition) to every consumer
// group's lag each interval until ctx ends. Groups that disappear leave the
// gauge.
func MonitorLag(ctx context.Context, adm *kadm.Client, gauge *prometheus.GaugeVec, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := updateLag(ctx, adm, gauge); err != nil && ctx.Err() == nil {
			log.Warn("consumer lag not updated", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func updateLag(ctx context.Context, adm *kadm.Client, gauge *prometheus.GaugeVec) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return err
	}
	groups := listed.Groups()
	if len(groups) == 0 {
		gauge.Reset()
		return nil
	}
	lags, err := adm.Lag(ctx, groups...)
	if err != nil {
		return err
	}
	gauge.Reset()
	lags.Each(func(l kadm.DescribedGroupLag) {
		for topic, parts := range l.Lag {
			for p, ml := range parts {
				if ml.Err == nil && ml.Lag >= 0 {
					gauge.WithLabelValues(l.Group, topic, strconv.Itoa(int(p))).Set(float64(ml.Lag))
				}
			}
		}
	})
	return nil
}
