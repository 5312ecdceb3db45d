// Command probe is the readiness check of the local real-server harness
// (deploy/local/up): it asks a server a real protocol question and exits 0
// only when the server answers it within the timeout. It creates, changes
// and deletes nothing.
//
// Usage:
//
//	probe [-timeout 5s] kafka 127.0.0.1:19092
//	probe [-timeout 5s] cassandra 127.0.0.1:19042
//
// kafka sends a Metadata request (franz-go kadm) and needs at least one
// broker in the answer. cassandra runs
// `SELECT release_version FROM system.local` (gocql).
//
// deploy/local/lib.sh builds it once to deploy/local/.state/bin/probe and
// rebuilds it when this source, go.mod or go.sum is newer, so the one-second
// readiness polls do not pay for `go run`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/gocql/gocql"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	timeout := flag.Duration("timeout", 5*time.Second, "give up after this long")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: %s [-timeout 5s] kafka|cassandra HOST:PORT\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	kind, addr := flag.Arg(0), flag.Arg(1)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		fmt.Fprintf(os.Stderr, "probe: bad address %q: %v\n", addr, err)
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var (
		info string
		err  error
	)
	switch kind {
	case "kafka":
		info, err = probeKafka(ctx, addr)
	case "cassandra":
		info, err = probeCassandra(ctx, addr, *timeout)
	default:
		fmt.Fprintf(os.Stderr, "probe: unknown server kind %q (want kafka or cassandra)\n", kind)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "probe %s %s: %v\n", kind, addr, err)
		os.Exit(1)
	}
	fmt.Printf("%s %s: %s\n", kind, addr, info)
}

// probeKafka issues one Metadata request that asks for no topics.
func probeKafka(ctx context.Context, addr string) (string, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DialTimeout(2*time.Second),
	)
	if err != nil {
		return "", err
	}
	defer cl.Close()

	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", fmt.Errorf("metadata request: %w (%v)", err, ctxErr)
		}
		return "", fmt.Errorf("metadata request: %w", err)
	}
	if len(md.Brokers) == 0 {
		return "", errors.New("metadata answer lists no brokers")
	}
	return fmt.Sprintf("%d broker(s), cluster %s, controller %d",
		len(md.Brokers), md.Cluster, md.Controller), nil
}

// probeCassandra connects with a 5 s-bounded setup and reads the server version.
func probeCassandra(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	host, portStr, _ := net.SplitHostPort(addr)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", fmt.Errorf("bad port %q", portStr)
	}
	connectTimeout := 5 * time.Second
	if timeout < connectTimeout {
		connectTimeout = timeout
	}

	cluster := gocql.NewCluster(host)
	cluster.Port = port
	cluster.ConnectTimeout = connectTimeout
	cluster.Timeout = connectTimeout
	cluster.NumConns = 1
	cluster.Consistency = gocql.One
	cluster.DisableInitialHostLookup = true
	cluster.Logger = log.New(io.Discard, "", 0)

	session, err := cluster.CreateSession()
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer session.Close()

	var version string
	if err := session.Query("SELECT release_version FROM system.local").
		WithContext(ctx).Scan(&version); err != nil {
		return "", fmt.Errorf("query system.local: %w", err)
	}
	return "release_version " + version, nil
}
