package topics

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Mismatch is one setting of an existing topic that differs from the
// catalog.
type Mismatch struct {
	Topic    string
	Setting  string
	Expected string
	Actual   string
}

func (m Mismatch) String() string {
	return fmt.Sprintf("topic %q: %s is %s, expected %s", m.Topic, m.Setting, m.Actual, m.Expected)
}

// IncompatibleError lists every existing topic setting that differs from the
// catalog. A role must not start on such topics: keys would land on other
// partitions than its state expects, or compacted history would vanish.
type IncompatibleError struct{ Mismatches []Mismatch }

func (e *IncompatibleError) Error() string {
	lines := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		lines[i] = m.String()
	}
	msg := "topics: existing topics are incompatible with the catalog:\n  " + strings.Join(lines, "\n  ")
	for _, m := range e.Mismatches {
		if m.Setting == "retention.ms" {
			return msg + "\n(`shopstream topics create` raises a retention.ms shorter than the catalog's)"
		}
	}
	return msg
}

// MissingError lists catalog topics that do not exist when verifying only.
type MissingError struct{ Topics []string }

func (e *MissingError) Error() string {
	return "topics: missing (run `shopstream topics create`): " + strings.Join(e.Topics, ", ")
}

// Status is one topic's state after Ensure.
type Status struct {
	Topic   Topic
	Created bool
	// Widened: the topic existed with a shorter retention.ms than the
	// catalog's, and Ensure raised it.
	Widened bool
}

// Ensure makes the broker hold every catalog topic with its declared
// settings. With create set it creates missing topics (an "already exists"
// answer from a racing creator is fine) and raises a shorter retention.ms
// to the catalog's (keeping more never loses a record); without it a
// missing topic is an error. Existing topics are verified either way: any
// other difference is an *IncompatibleError.
func Ensure(ctx context.Context, cl *kgo.Client, cat []Topic, create bool) ([]Status, error) {
	adm := kadm.NewClient(cl)
	details, err := describe(ctx, cl, cat)
	if err != nil {
		return nil, err
	}
	statuses := make([]Status, 0, len(cat))
	var missing []string
	for _, t := range cat {
		if _, ok := details[t.Name]; ok {
			statuses = append(statuses, Status{Topic: t})
			continue
		}
		if !create {
			missing = append(missing, t.Name)
			continue
		}
		configs := make(map[string]*string)
		for k, v := range t.AllConfigs() {
			configs[k] = kadm.StringPtr(v)
		}
		_, err := adm.CreateTopic(ctx, t.Partitions, t.Replication, configs, t.Name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("topics: create %q (%d partitions, replication %d): %w", t.Name, t.Partitions, t.Replication, err)
		}
		statuses = append(statuses, Status{Topic: t, Created: err == nil})
	}
	if len(missing) > 0 {
		return nil, &MissingError{Topics: missing}
	}
	if err := awaitVisible(ctx, cl, cat); err != nil {
		return nil, err
	}
	err = Verify(ctx, cl, cat)
	var inc *IncompatibleError
	if create && errors.As(err, &inc) {
		widened, werr := widenRetention(ctx, adm, cat, inc.Mismatches)
		if werr != nil {
			return nil, werr
		}
		for i := range statuses {
			statuses[i].Widened = widened[statuses[i].Topic.Name]
		}
		if len(widened) > 0 {
			err = Verify(ctx, cl, cat)
		}
	}
	if err != nil {
		return nil, err
	}
	return statuses, nil
}

// widenRetention raises the retention.ms of the topics in mm whose
// catalog retention keeps more than they do (-1 keeps all), and says which.
func widenRetention(ctx context.Context, adm *kadm.Client, cat []Topic, mm []Mismatch) (map[string]bool, error) {
	want := map[string]string{}
	for _, t := range cat {
		want[t.Name] = t.AllConfigs()["retention.ms"]
	}
	widened := map[string]bool{}
	for _, m := range mm {
		actual, err := strconv.Unquote(m.Actual)
		if m.Setting != "retention.ms" || err != nil || !keepsMore(want[m.Topic], actual) {
			continue
		}
		v := want[m.Topic]
		res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &v}}, m.Topic)
		if err == nil {
			_, err = res.On(m.Topic, func(r *kadm.AlterConfigsResponse) error { return r.Err })
		}
		if err != nil {
			return nil, fmt.Errorf("topics: raise retention.ms of %q from %s to %s: %w", m.Topic, actual, v, err)
		}
		widened[m.Topic] = true
	}
	return widened, nil
}

// keepsMore reports whether retention.ms want keeps records longer than
// have; -1 is for ever, and an unset have is the broker's default, which
// only a for-ever want is sure to exceed.
func keepsMore(want, have string) bool {
	w, err := strconv.ParseInt(want, 10, 64)
	if err != nil {
		return false
	}
	if w == -1 {
		return have != "-1"
	}
	h, err := strconv.ParseInt(have, 10, 64)
	return err == nil && h != -1 && w > h
}

// awaitVisible waits until the broker's metadata shows every catalog topic:
// Apache Kafka answers CreateTopics before the new topics reach its metadata.
func awaitVisible(ctx context.Context, cl *kgo.Client, cat []Topic) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		details, err := describe(ctx, cl, cat)
		if err != nil {
			return err
		}
		var missing []string
		for _, t := range cat {
			if s, ok := details[t.Name]; !ok || s.partitions == 0 {
				missing = append(missing, t.Name)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics: created but still not in the brokers' metadata after 30s: %s", strings.Join(missing, ", "))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// shape is what a metadata answer says of one topic.
type shape struct{ partitions, replicas int }

// describe fetches fresh metadata for the catalog topics; kadm's listing is
// cached for seconds and would still miss a topic just created. Topics the
// broker does not know are absent from the map.
func describe(ctx context.Context, cl *kgo.Client, cat []Topic) (map[string]shape, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range cat {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t.Name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("topics: metadata request: %w", err)
	}
	out := make(map[string]shape, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				continue
			}
			return nil, fmt.Errorf("topics: metadata of %q: %w", *t.Topic, err)
		}
		s := shape{partitions: len(t.Partitions)}
		if len(t.Partitions) > 0 {
			s.replicas = len(t.Partitions[0].Replicas)
		}
		out[*t.Topic] = s
	}
	return out, nil
}

// Verify checks partitions, replication and declared configs of every
// catalog topic and returns an *IncompatibleError naming each difference.
func Verify(ctx context.Context, cl *kgo.Client, cat []Topic) error {
	names := make([]string, len(cat))
	for i, t := range cat {
		names[i] = t.Name
	}
	details, err := describe(ctx, cl, cat)
	if err != nil {
		return err
	}
	var missing []string
	for _, t := range cat {
		if _, ok := details[t.Name]; !ok {
			missing = append(missing, t.Name)
		}
	}
	if len(missing) > 0 {
		return &MissingError{Topics: missing}
	}
	configs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return fmt.Errorf("topics: describe topic configs: %w", err)
	}
	var mm []Mismatch
	for _, t := range cat {
		d := details[t.Name]
		if got := int32(d.partitions); got != t.Partitions {
			mm = append(mm, Mismatch{t.Name, "partitions", fmt.Sprint(t.Partitions), fmt.Sprint(got)})
		}
		if got := d.replicas; got != int(t.Replication) {
			mm = append(mm, Mismatch{t.Name, "replication factor", fmt.Sprint(t.Replication), fmt.Sprint(got)})
		}
		rc, err := configs.On(t.Name, nil)
		if err != nil {
			return fmt.Errorf("topics: describe configs of %q: %w", t.Name, err)
		}
		actual := make(map[string]string, len(rc.Configs))
		for _, c := range rc.Configs {
			if c.Value != nil {
				actual[c.Key] = *c.Value
			}
		}
		want := t.AllConfigs()
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			got, ok := actual[k]
			if !ok {
				got = "<unset>"
			}
			if got != want[k] {
				mm = append(mm, Mismatch{t.Name, k, strconv.Quote(want[k]), strconv.Quote(got)})
			}
		}
	}
	if len(mm) > 0 {
		return &IncompatibleError{Mismatches: mm}
	}
	return nil
}
