// Package redis keeps idgate's shared state in Redis (or Valkey): the ephemeral store (OAuth
// states, pending verification ids, one-time codes, counters, lockouts), durable verification
// records, and revocations, which it also publishes so every instance's local view learns of them
// at once (and polls, so a missed message is caught within PollInterval).
//
// Nothing here is on the request hot path: sessions are checked against the local revocation
// view, which keeps answering when Redis is down.
package redis

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/internal/hotmap"
	"github.com/idgate/idgate/internal/store"
)

// Options configures the connection.
type Options struct {
	// URL (redis://user:pass@host:port/db or rediss:// for TLS) takes precedence over the fields.
	URL      string
	Address  string
	Username string
	Password string
	DB       int
	TLS      bool
	// Prefix namespaces every key. Default "idgate:".
	Prefix string
	// Timeout bounds each command. Default 1s.
	Timeout time.Duration
}

// Store is a Redis-backed store.Ephemeral and store.Records.
type Store struct {
	c      *goredis.Client
	prefix string
}

// New returns a Store; it does not connect until first use.
func New(o Options) (*Store, error) {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	var opts *goredis.Options
	if o.URL != "" {
		var err error
		if opts, err = goredis.ParseURL(o.URL); err != nil {
			return nil, fmt.Errorf("redis store: %w", err)
		}
	} else {
		if o.Address == "" {
			return nil, errors.New("redis store: address or url is required")
		}
		opts = &goredis.Options{Addr: o.Address, Username: o.Username, Password: o.Password, DB: o.DB}
		if o.TLS {
			host := o.Address
			if i := strings.LastIndex(host, ":"); i > 0 {
				host = host[:i]
			}
			opts.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = o.Timeout, o.Timeout, o.Timeout
	opts.MaxRetries = 1
	if o.Prefix == "" {
		o.Prefix = "idgate:"
	}
	return &Store{c: goredis.NewClient(opts), prefix: o.Prefix}, nil
}

// Close closes the client.
func (s *Store) Close() error { return s.c.Close() }

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error { return wrap(s.c.Ping(ctx).Err()) }

func wrap(err error) error {
	if err == nil || errors.Is(err, goredis.Nil) {
		return nil
	}
	return fmt.Errorf("redis store: %w: %w", store.ErrUnavailable, err)
}

func (s *Store) k(key string) string { return s.prefix + key }

// Put stores val under key for ttl.
func (s *Store) Put(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	return wrap(s.c.Set(ctx, s.k(key), val, ttl).Err())
}

// Get returns the value under key.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := s.c.Get(ctx, s.k(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap(err)
	}
	return v, true, nil
}

// Take returns and deletes the value under key, atomically (GETDEL).
func (s *Store) Take(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := s.c.GetDel(ctx, s.k(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap(err)
	}
	return v, true, nil
}

// Add stores val only if key is absent (SET NX).
func (s *Store) Add(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	ok, err := s.c.SetNX(ctx, s.k(key), val, ttl).Result()
	return ok, wrap(err)
}

var incrScript = goredis.NewScript(`local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return n`)

// Incr increments a counter created with ttl; the ttl is not extended.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	n, err := incrScript.Run(ctx, s.c, []string{s.k(key)}, ttl.Milliseconds()).Int64()
	return n, wrap(err)
}

func hashName(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// Get returns the record of subject, or nil.
func (s *Store) GetRecord(ctx context.Context, subject string) (*store.Record, error) {
	v, found, err := s.Get(ctx, "rec:"+hashName(subject))
	if err != nil || !found {
		return nil, err
	}
	var r store.Record
	if err := json.Unmarshal(v, &r); err != nil || r.Subject != subject {
		return nil, fmt.Errorf("redis store: record for a subject is corrupt")
	}
	return &r, nil
}

// PutRecord replaces a record (no expiry: records are durable).
func (s *Store) PutRecord(ctx context.Context, r *store.Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("redis store: %w", err)
	}
	return s.Put(ctx, "rec:"+hashName(r.Subject), data, 0)
}

// UpdateRecord changes a record in an optimistic transaction (WATCH, then MULTI/EXEC): when
// another writer changed it in between, fn runs again on the new record.
func (s *Store) UpdateRecord(ctx context.Context, subject string, fn func(*store.Record) error) (*store.Record, error) {
	key := s.k("rec:" + hashName(subject))
	var out *store.Record
	for attempt := 0; attempt < 20; attempt++ {
		err := s.c.Watch(ctx, func(tx *goredis.Tx) error {
			r := &store.Record{Subject: subject}
			v, err := tx.Get(ctx, key).Bytes()
			switch {
			case errors.Is(err, goredis.Nil):
			case err != nil:
				return err
			default:
				if json.Unmarshal(v, r) != nil || r.Subject != subject {
					return fmt.Errorf("redis store: record for a subject is corrupt")
				}
			}
			if err := fn(r); err != nil {
				return &fnError{err}
			}
			r.Subject = subject
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				p.Set(ctx, key, data, 0)
				return nil
			})
			if err == nil {
				out = r
			}
			return err
		}, key)
		var fe *fnError
		switch {
		case err == nil:
			return out, nil
		case errors.As(err, &fe):
			return nil, fe.err
		case errors.Is(err, goredis.TxFailedErr):
			continue
		default:
			return nil, wrap(err)
		}
	}
	return nil, fmt.Errorf("redis store: %w: record of a subject kept changing", store.ErrUnavailable)
}

// fnError carries the caller's error out of a transaction untouched.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// LinkCI adds subject to the set of ci and returns the set, sorted.
func (s *Store) LinkCI(ctx context.Context, ci, subject string) ([]string, error) {
	key := s.k("ci:" + hashName(ci))
	if err := s.c.SAdd(ctx, key, subject).Err(); err != nil {
		return nil, wrap(err)
	}
	subs, err := s.c.SMembers(ctx, key).Result()
	if err != nil {
		return nil, wrap(err)
	}
	sort.Strings(subs)
	return subs, nil
}

// Records adapts Store to store.Records.
type Records struct{ *Store }

// Get returns the record of subject.
func (r Records) Get(ctx context.Context, subject string) (*store.Record, error) {
	return r.GetRecord(ctx, subject)
}

// Update changes a record atomically (see store.Records).
func (r Records) Update(ctx context.Context, subject string, fn func(*store.Record) error) (*store.Record, error) {
	return r.UpdateRecord(ctx, subject, fn)
}

// Revocations is the shared revocation list with a local view.
type Revocations struct {
	s *Store
	// PollInterval bounds how stale the local view can get if a published message is missed.
	PollInterval time.Duration
	// OnError is told about failures of the background loop (Redis down); it may be nil.
	OnError func(error)

	view *hotmap.Map[string, struct{}] // revoked session ids, each until its session's end
}

// NewRevocations returns a revocation list on s. Call Run to keep its local view fresh.
func NewRevocations(s *Store, poll time.Duration) *Revocations {
	if poll <= 0 {
		poll = 5 * time.Second
	}
	return &Revocations{s: s, PollInterval: poll, view: hotmap.New[string, struct{}](time.Minute)}
}

// Revoked reports whether id is revoked, from the local view only (no network I/O).
func (r *Revocations) Revoked(id string, now time.Time) bool {
	_, ok := r.view.Get(id, now)
	return ok
}

func (r *Revocations) remember(id string, until int64) {
	r.view.Set(id, struct{}{}, time.Unix(until, 0), time.Now())
}

// Revoke records id as revoked until then, in Redis (sorted set and publish) and locally.
func (r *Revocations) Revoke(ctx context.Context, id string, until time.Time) error {
	r.remember(id, until.Unix())
	pipe := r.s.c.TxPipeline()
	pipe.ZAdd(ctx, r.s.k("revoked"), goredis.Z{Score: float64(until.Unix()), Member: id})
	pipe.Publish(ctx, r.s.k("revocations"), id+" "+strconv.FormatInt(until.Unix(), 10))
	_, err := pipe.Exec(ctx)
	return wrap(err)
}

// Sync reads every unexpired revocation into the local view (expired ones leave it by themselves).
func (r *Revocations) Sync(ctx context.Context) error {
	now := time.Now().Unix()
	key := r.s.k("revoked")
	r.s.c.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now, 10))
	zs, err := r.s.c.ZRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Min: strconv.FormatInt(now+1, 10), Max: "+inf"}).Result()
	if err != nil {
		return wrap(err)
	}
	for _, z := range zs {
		r.remember(z.Member.(string), int64(z.Score))
	}
	return nil
}

// Run keeps the local view fresh until ctx ends: a subscription for immediate updates and a
// poll every PollInterval (which also re-subscribes after Redis comes back).
func (r *Revocations) Run(ctx context.Context) {
	sub := r.s.c.Subscribe(ctx, r.s.k("revocations"))
	defer sub.Close()
	msgs := sub.Channel()
	tick := time.NewTicker(r.PollInterval)
	defer tick.Stop()
	_ = r.Sync(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			id, until, found := strings.Cut(m.Payload, " ")
			if n, err := strconv.ParseInt(until, 10, 64); found && err == nil {
				r.remember(id, n)
			}
		case <-tick.C:
			if err := r.Sync(ctx); err != nil && r.OnError != nil {
				r.OnError(err)
			}
		}
	}
}
