package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/api/orderdb"
	"github.com/shopstream/shopstream/config"
	"github.com/shopstream/shopstream/internal/schema"
)

// schemaScope partitions schema_migrations, so its newest row is one
// single-partition read.
const schemaScope = "history"

// cassandra is the production adapter. Every statement names its keyspace,
// so the session works before the keyspace exists.
type cassandra struct {
	session  *gocql.Session
	hosts    string // for messages
	keyspace string // as configured, for system_schema lookups
	ks       string // quoted, for statements
	rf       int
}

func openCassandra(ctx context.Context, cfg config.HistoryStore, o options) (*cassandra, error) {
	hosts := strings.Join(cfg.Hosts, ",")
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("history: cassandra driver needs at least one host:port in stores.history.hosts")
	}
	if cfg.Keyspace == "" {
		return nil, fmt.Errorf("history: cassandra at %s: no keyspace configured (stores.history.keyspace)", hosts)
	}
	consistency, err := gocql.ParseConsistencyWrapper(cfg.Consistency)
	if err != nil {
		return nil, fmt.Errorf("history: cassandra at %s: consistency %q: want one, local_one, quorum, local_quorum or all", hosts, cfg.Consistency)
	}
	rf := cfg.ReplicationFactor
	if rf <= 0 {
		rf = 1
	}

	cluster := gocql.NewCluster(cfg.Hosts...)
	cluster.Consistency = consistency
	cluster.ConnectTimeout = o.timeout
	cluster.Timeout = o.timeout
	// Every Cassandra since 3.0 speaks v4; naming it saves the dial that
	// discovers the version.
	cluster.ProtoVersion = 4
	// Migrate waits for agreement itself and reports a failure; this bounds
	// the driver's own wait after each DDL statement.
	cluster.MaxWaitSchemaAgreement = 30 * time.Second
	cluster.Logger = stdLogger{o.logger}

	session, err := createSession(ctx, cluster)
	if err != nil {
		return nil, fmt.Errorf("history: cassandra at %s did not answer within %s: %w", hosts, o.timeout, err)
	}
	return &cassandra{session: session, hosts: hosts, keyspace: cfg.Keyspace, ks: quoteIdent(cfg.Keyspace), rf: rf}, nil
}

// createSession is gocql's CreateSession, which takes no context, bounded
// by ctx as well as by the cluster's timeouts: a session that arrives after
// ctx ended is closed.
func createSession(ctx context.Context, cluster *gocql.ClusterConfig) (*gocql.Session, error) {
	type result struct {
		s   *gocql.Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := cluster.CreateSession()
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (c *cassandra) String() string { return "cassandra keyspace " + c.keyspace + " at " + c.hosts }

func (c *cassandra) migrations() []schema.Migration {
	return []schema.Migration{{
		Version: 1,
		Name:    "orders_by_id and orders_by_user",
		Apply: func(ctx context.Context) error {
			return c.ddl(ctx,
				`CREATE TABLE IF NOT EXISTS `+c.ks+`.orders_by_id (
					order_id text PRIMARY KEY,
					user_id text,
					created_at timestamp,
					status text,
					total_cents bigint,
					currency text,
					body blob)`,
				`CREATE TABLE IF NOT EXISTS `+c.ks+`.orders_by_user (
					user_id text,
					created_at timestamp,
					order_id text,
					status text,
					total_cents bigint,
					currency text,
					PRIMARY KEY ((user_id), created_at, order_id))
				WITH CLUSTERING ORDER BY (created_at DESC, order_id DESC)`)
		},
	}, {
		// A page of a user's orders is then one partition read, with no
		// read per order in orders_by_id. No build wrote orders under v1.
		Version: 2,
		Name:    "whole orders in orders_by_user",
		Apply: func(ctx context.Context) error {
			// ADD has no IF NOT EXISTS before Cassandra 4.1: look first, as
			// a crash can leave the column added and the step unrecorded.
			var name string
			err := c.session.Query(`SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND column_name = ?`,
				c.keyspace, "orders_by_user", "body").WithContext(ctx).Scan(&name)
			switch {
			case err == nil:
				return nil
			case !errors.Is(err, gocql.ErrNotFound):
				return fmt.Errorf("history: %s: look up orders_by_user.body: %w", c, err)
			}
			return c.ddl(ctx, `ALTER TABLE `+c.ks+`.orders_by_user ADD body blob`)
		},
	}, {
		// A timestamp column keeps milliseconds; the order-taking database
		// orders by microseconds, and the merged orders view compares the
		// two. A clustering column cannot change type: the rows move to a
		// new table, and the old one goes, so a build that still writes it
		// fails instead of writing orders no page shows.
		Version: 3,
		Name:    "orders_by_user_micros: a user's orders by created_at to the microsecond",
		Apply: func(ctx context.Context) error {
			err := c.ddl(ctx, `CREATE TABLE IF NOT EXISTS `+c.ks+`.orders_by_user_micros (
					user_id text,
					created_micros bigint,
					order_id text,
					status text,
					total_cents bigint,
					currency text,
					body blob,
					PRIMARY KEY ((user_id), created_micros, order_id))
				WITH CLUSTERING ORDER BY (created_micros DESC, order_id DESC)`)
			if err != nil {
				return err
			}
			// A crash after the drop leaves nothing to copy.
			if ok, err := c.hasTable(ctx, "orders_by_user"); err != nil || !ok {
				return err
			}
			if err := c.copyUserOrders(ctx); err != nil {
				return err
			}
			return c.ddl(ctx, `DROP TABLE IF EXISTS `+c.ks+`.orders_by_user`)
		},
	}}
}

// copyUserOrders rewrites every orders_by_user row into
// orders_by_user_micros, a driver page at a time, as Put writes them: with
// the timestamp of the copy's updated_at, so a copy changes nothing that a
// newer write, or an earlier run of the copy, left there.
func (c *cassandra) copyUserOrders(ctx context.Context) error {
	it := c.session.Query(`SELECT user_id, order_id, body FROM ` + c.ks + `.orders_by_user`).WithContext(ctx).PageSize(eachPage).Iter()
	var user, id string
	var body []byte
	var page []orderdb.Order
	flush := func() error {
		rows, err := userRows(page)
		if err != nil {
			return err
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(putConcurrency)
		c.putUserRows(gctx, g, rows)
		err = g.Wait()
		page = page[:0]
		return err
	}
	for it.Scan(&user, &id, &body) {
		o, err := decode("orders_by_user row "+user+"/"+id, body)
		if err == nil {
			if page = append(page, o); len(page) == eachPage {
				err = flush()
			}
		}
		if err != nil {
			it.Close()
			return fmt.Errorf("history: %s: copy orders_by_user: %w", c, err)
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("history: %s: read orders_by_user: %w", c, err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("history: %s: copy orders_by_user: %w", c, err)
	}
	return nil
}

// Migrate creates the keyspace and its schema_migrations table when
// missing, then applies what is missing.
func (c *cassandra) Migrate(ctx context.Context) error { return c.migrateTo(ctx, len(c.migrations())) }

func (c *cassandra) migrateTo(ctx context.Context, version int) error {
	if err := c.bootstrap(ctx); err != nil {
		return err
	}
	return schema.Migrate(ctx, c.String(), c, c.migrations()[:version])
}

func (c *cassandra) bootstrap(ctx context.Context) error {
	if ok, err := c.hasSchemaTable(ctx); err != nil || ok {
		return err
	}
	// The replication factor applies when the keyspace is created; an
	// existing keyspace keeps its own (ALTER KEYSPACE changes it).
	return c.ddl(ctx,
		fmt.Sprintf(`CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}`, c.ks, c.rf),
		`CREATE TABLE IF NOT EXISTS `+c.ks+`.schema_migrations (
			scope text,
			version int,
			name text,
			applied_at timestamp,
			PRIMARY KEY ((scope), version))
		WITH CLUSTERING ORDER BY (version DESC)`)
}

// ddl runs schema statements in order, then waits until every node has the
// new schema, so the next statement on any node sees it.
func (c *cassandra) ddl(ctx context.Context, stmts ...string) error {
	for _, stmt := range stmts {
		if err := c.session.Query(stmt).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("history: %s: %s: %w", c, firstLine(stmt), err)
		}
	}
	if err := c.session.AwaitSchemaAgreement(ctx); err != nil {
		return fmt.Errorf("history: %s: nodes do not agree on the schema: %w", c, err)
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSuffix(line, " (")
}

func (c *cassandra) hasSchemaTable(ctx context.Context) (bool, error) {
	return c.hasTable(ctx, "schema_migrations")
}

// hasTable looks table up in the keyspace.
func (c *cassandra) hasTable(ctx context.Context, table string) (bool, error) {
	var name string
	err := c.session.Query(`SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?`,
		c.keyspace, table).WithContext(ctx).Scan(&name)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("history: %s: look up %s: %w", c, table, err)
	}
	return true, nil
}

func (c *cassandra) recorder() schema.Recorder { return c }

func (c *cassandra) SchemaVersion(ctx context.Context) (int, error) { return c.Version(ctx) }

// Version implements schema.Recorder: 0 while there is no keyspace or no
// schema_migrations table yet.
func (c *cassandra) Version(ctx context.Context) (int, error) {
	if ok, err := c.hasSchemaTable(ctx); err != nil || !ok {
		return 0, err
	}
	var v int
	err := c.session.Query(`SELECT version FROM `+c.ks+`.schema_migrations WHERE scope = ? LIMIT 1`, schemaScope).
		WithContext(ctx).Scan(&v)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("history: %s: read schema_migrations: %w", c, err)
	}
	return v, nil
}

// Record implements schema.Recorder.
func (c *cassandra) Record(ctx context.Context, m schema.Migration) error {
	err := c.session.Query(`INSERT INTO `+c.ks+`.schema_migrations (scope, version, name, applied_at) VALUES (?, ?, ?, ?)`,
		schemaScope, m.Version, m.Name, time.Now()).WithContext(ctx).Exec()
	if err != nil {
		return fmt.Errorf("history: %s: write schema_migrations: %w", c, err)
	}
	return nil
}

// Health asks the node it reaches for its release version.
func (c *cassandra) Health(ctx context.Context) error {
	var v string
	if err := c.session.Query(`SELECT release_version FROM system.local`).WithContext(ctx).Scan(&v); err != nil {
		return fmt.Errorf("history: cassandra at %s: %w", c.hosts, err)
	}
	return nil
}

// Close ends the session; a second Close is a no-op.
func (c *cassandra) Close() error {
	c.session.Close()
	return nil
}

// putConcurrency bounds the writes one Put has in flight. Cassandra takes
// more the more it is offered, to a point: a replay of orders into it
// here ran 57k records/s at 32, 61-65k at 64, 70k at 128 and 62-81k from
// 256 to 1024, each write still a few milliseconds.
const putConcurrency = 256

// batchBytes bounds the order bodies in one unlogged batch, below
// Cassandra's batch_size_warn_threshold (5 KiB by default; 50 KiB fails).
const batchBytes = 4 << 10

// Put writes each order to orders_by_id and, in unlogged batches that each
// stay in one user's partition, to orders_by_user_micros. Every row is
// written USING TIMESTAMP the order's updated_at, so Cassandra's
// last-write-wins keeps the newest copy whatever order the writes land in,
// and writing the same copy again changes nothing. The statements are
// prepared once by the driver and reused.
func (c *cassandra) Put(ctx context.Context, orders []orderdb.Order) error {
	if err := checkOrders(orders); err != nil {
		return err
	}
	rows, err := userRows(orders)
	if err != nil {
		return err
	}
	byID := `INSERT INTO ` + c.ks + `.orders_by_id (order_id, user_id, created_at, status, total_cents, currency, body) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(putConcurrency)
	for _, r := range rows {
		o := r.o
		g.Go(func() error {
			return c.session.Query(byID, o.OrderID, o.UserID, o.CreatedAt, string(o.Status), o.TotalCents, o.Currency, r.body, o.UpdatedAt.UnixMicro()).
				WithContext(gctx).Idempotent(true).Exec()
		})
	}
	c.putUserRows(gctx, g, rows)
	if err := g.Wait(); err != nil {
		return fmt.Errorf("history: %s: put %d orders: %w", c, len(orders), err)
	}
	return nil
}

// row is an order with its encoded body.
type row struct {
	o    *orderdb.Order
	body []byte
}

// userRows encodes orders.
func userRows(orders []orderdb.Order) ([]row, error) {
	rows := make([]row, len(orders))
	for i := range orders {
		body, err := encode(orders[i])
		if err != nil {
			return nil, err
		}
		rows[i] = row{&orders[i], body}
	}
	return rows, nil
}

// putUserRows adds to g the writes of rows to orders_by_user_micros: per
// user, unlogged batches of up to batchBytes of bodies (a single row as a
// plain statement), each USING TIMESTAMP the order's updated_at.
func (c *cassandra) putUserRows(ctx context.Context, g *errgroup.Group, rows []row) {
	byUser := map[string][]row{}
	var users []string
	for _, r := range rows {
		if _, ok := byUser[r.o.UserID]; !ok {
			users = append(users, r.o.UserID)
		}
		byUser[r.o.UserID] = append(byUser[r.o.UserID], r)
	}
	stmt := `INSERT INTO ` + c.ks + `.orders_by_user_micros (user_id, created_micros, order_id, status, total_cents, currency, body) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	args := func(r row) []any {
		o := r.o
		return []any{o.UserID, o.CreatedAt.UnixMicro(), o.OrderID, string(o.Status), o.TotalCents, o.Currency, r.body, o.UpdatedAt.UnixMicro()}
	}
	for _, u := range users {
		for len(byUser[u]) > 0 {
			part := byUser[u]
			n, size := 0, 0
			for n < len(part) && (n == 0 || size+len(part[n].body) <= batchBytes) {
				size += len(part[n].body)
				n++
			}
			part, byUser[u] = part[:n], part[n:]
			g.Go(func() error {
				if len(part) == 1 {
					return c.session.Query(stmt, args(part[0])...).WithContext(ctx).Idempotent(true).Exec()
				}
				b := c.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
				for _, r := range part {
					b.Query(stmt, args(r)...)
				}
				return c.session.ExecuteBatch(b)
			})
		}
	}
}

func (c *cassandra) Order(ctx context.Context, orderID string) (orderdb.Order, error) {
	var body []byte
	err := c.session.Query(`SELECT body FROM `+c.ks+`.orders_by_id WHERE order_id = ?`, orderID).WithContext(ctx).Scan(&body)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		return orderdb.Order{}, fmt.Errorf("history: order %s: %w", orderID, ErrNotFound)
	case err != nil:
		return orderdb.Order{}, fmt.Errorf("history: %s: read order %s: %w", c, orderID, err)
	}
	return decode("orders_by_id row "+orderID, body)
}

// UserOrders reads one slice of the user's partition in clustering order,
// one row more than the page to know whether another follows.
func (c *cassandra) UserOrders(ctx context.Context, userID string, before Cursor, limit int) ([]orderdb.Order, Cursor, error) {
	limit, err := checkPage(userID, limit)
	if err != nil {
		return nil, Cursor{}, err
	}
	stmt := `SELECT order_id, body FROM ` + c.ks + `.orders_by_user_micros WHERE user_id = ?`
	args := []any{userID}
	if !before.IsZero() {
		stmt += ` AND (created_micros, order_id) < (?, ?)`
		args = append(args, before.CreatedAt.UnixMicro(), before.OrderID)
	}
	args = append(args, limit+1)
	it := c.session.Query(stmt+` LIMIT ?`, args...).WithContext(ctx).PageSize(limit + 1).Iter()
	var page []orderdb.Order
	var id string
	var body []byte
	for it.Scan(&id, &body) {
		o, err := decode("orders_by_user_micros row "+userID+"/"+id, body)
		if err != nil {
			it.Close()
			return nil, Cursor{}, err
		}
		page = append(page, o)
	}
	if err := it.Close(); err != nil {
		return nil, Cursor{}, fmt.Errorf("history: %s: orders of user %s: %w", c, userID, err)
	}
	return cut(page, limit)
}

// eachPage is how many orders_by_id rows EachOrder reads a time.
const eachPage = 500

// EachOrder scans orders_by_id, a driver page at a time.
func (c *cassandra) EachOrder(ctx context.Context, fn func(orderdb.Order) error) error {
	it := c.session.Query(`SELECT order_id, body FROM ` + c.ks + `.orders_by_id`).WithContext(ctx).PageSize(eachPage).Iter()
	var id string
	var body []byte
	for it.Scan(&id, &body) {
		o, err := decode("orders_by_id row "+id, body)
		if err == nil {
			err = fn(o)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("history: %s: scan orders_by_id: %w", c, err)
	}
	return nil
}

// stdLogger turns the driver's log lines into warnings on a slog.Logger.
type stdLogger struct{ l *slog.Logger }

func (s stdLogger) Print(v ...any)            { s.l.Warn("cassandra driver: " + fmt.Sprint(v...)) }
func (s stdLogger) Printf(f string, v ...any) { s.l.Warn("cassandra driver: " + fmt.Sprintf(f, v...)) }
func (s stdLogger) Println(v ...any) {
	s.l.Warn("cassandra driver: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
