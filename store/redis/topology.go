package redis

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Target names the Redis a ledger keeps its data in: one node (the
// default), a Redis Cluster, or a master that Sentinels watch and fail
// over.
type Target struct {
	// URL is REDIS_URL. For one node it is a redis://, rediss:// or
	// unix:// URL as go-redis's ParseURL reads it. For a cluster or
	// Sentinels it is go-redis's cluster URL form,
	// redis://[[user]:password@]host1:port1?addr=host2:port2&addr=host3:port3,
	// naming some of the cluster's nodes (any one is enough to find the
	// others) or the Sentinels; query parameters such as dial_timeout or
	// max_retries tune the client in every form.
	URL string
	// Cluster reads URL as a cluster seed list (REDIS_CLUSTER=true): the
	// client follows the cluster's slots, MOVED and ASK redirects
	// included.
	Cluster bool
	// SentinelMaster, when set (REDIS_SENTINEL_MASTER), reads URL as the
	// Sentinels' addresses: the client asks them for that master and
	// follows a failover. The URL's user and password are the master's
	// (and its replicas'); the Sentinels are asked without one. A path of
	// /<n> selects database n.
	SentinelMaster string
}

// ErrTopology is what errors.Is finds in the error Target.Client and
// Target.Validate return for a URL that does not fit its topology, or a
// topology that makes no sense; the error is a *TopologyError.
var ErrTopology = errors.New("redis: bad topology")

// TopologyError says which setting of a Target is wrong and why, never
// quoting the URL (which may hold a password).
type TopologyError struct {
	// Setting is the Target field at fault: "URL" or "SentinelMaster".
	Setting string
	// Reason says what is wrong, as a phrase that follows the setting's
	// name ("is not a cluster seed list …").
	Reason string
}

// Error is "redis: <setting> <reason>".
func (e *TopologyError) Error() string { return "redis: " + e.Setting + " " + e.Reason }

// Is reports whether target is ErrTopology.
func (e *TopologyError) Is(target error) bool { return target == ErrTopology }

// bad returns a TopologyError.
func bad(setting, format string, args ...any) error {
	return &TopologyError{Setting: setting, Reason: fmt.Sprintf(format, args...)}
}

// Validate reports whether Client would accept t, without building a
// client.
func (t Target) Validate() error {
	_, err := t.build(false)
	return err
}

// Client returns a go-redis client for t without connecting: a Client for
// one node, a ClusterClient for a cluster, a FailoverClient for Sentinels
// (built from UniversalOptions). Its errors never quote the URL, which may
// hold a password, and wrap ErrTopology.
func (t Target) Client() (goredis.UniversalClient, error) {
	return t.build(true)
}

// build checks t and, when create is set, builds its client.
func (t Target) build(create bool) (goredis.UniversalClient, error) {
	switch {
	case t.Cluster && t.SentinelMaster != "":
		return nil, bad("SentinelMaster", "cannot be used with a cluster, which has no Sentinel master: choose one of the two")
	case strings.TrimSpace(t.SentinelMaster) != t.SentinelMaster || strings.ContainsAny(t.SentinelMaster, " \t\r\n"):
		return nil, bad("SentinelMaster", "is %q: a master name has no blanks", t.SentinelMaster)
	case t.Cluster:
		o, err := goredis.ParseClusterURL(t.URL)
		if err != nil {
			return nil, bad("URL", "is not a cluster seed list (%v): want redis://host1:port1?addr=host2:port2&addr=host3:port3", urlError(err))
		}
		if db, err := pathDB(t.URL); err != nil || db != 0 {
			return nil, bad("URL", "names a database: a cluster has database 0 only")
		}
		if !create {
			return nil, nil
		}
		return goredis.NewClusterClient(o), nil
	case t.SentinelMaster != "":
		o, err := goredis.ParseClusterURL(t.URL)
		if err != nil {
			return nil, bad("URL", "is not a list of Sentinels (%v): want redis://sentinel1:26379?addr=sentinel2:26379", urlError(err))
		}
		db, err := pathDB(t.URL)
		if err != nil {
			return nil, bad("URL", "%v", err)
		}
		if !create {
			return nil, nil
		}
		return goredis.NewUniversalClient(&goredis.UniversalOptions{
			Addrs:           o.Addrs,
			MasterName:      t.SentinelMaster,
			DB:              db,
			Username:        o.Username,
			Password:        o.Password,
			ClientName:      o.ClientName,
			Protocol:        o.Protocol,
			MaxRetries:      o.MaxRetries,
			MinRetryBackoff: o.MinRetryBackoff,
			MaxRetryBackoff: o.MaxRetryBackoff,
			DialTimeout:     o.DialTimeout,
			ReadTimeout:     o.ReadTimeout,
			WriteTimeout:    o.WriteTimeout,
			PoolFIFO:        o.PoolFIFO,
			PoolSize:        o.PoolSize,
			PoolTimeout:     o.PoolTimeout,
			MinIdleConns:    o.MinIdleConns,
			MaxIdleConns:    o.MaxIdleConns,
			MaxActiveConns:  o.MaxActiveConns,
			ConnMaxIdleTime: o.ConnMaxIdleTime,
			ConnMaxLifetime: o.ConnMaxLifetime,
			TLSConfig:       o.TLSConfig,
		}), nil
	}
	o, err := goredis.ParseURL(t.URL)
	if err != nil {
		if strings.Contains(t.URL, "addr=") {
			return nil, bad("URL", "lists several addresses (addr=): set REDIS_CLUSTER=true for a cluster, or REDIS_SENTINEL_MASTER for Sentinels")
		}
		return nil, bad("URL", "is not a Redis URL (%v): want for example redis://127.0.0.1:6379/0", urlError(err))
	}
	if !create {
		return nil, nil
	}
	return goredis.NewClient(o), nil
}

// pathDB reads the database number of a cluster-form URL's path ("", "/"
// or "/<n>").
func pathDB(raw string) (int, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return 0, urlError(err)
	}
	p := strings.Trim(u.Path, "/")
	if p == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad database number %q", p)
	}
	return n, nil
}

// urlError is err without the URL a url.Error quotes, password included.
func urlError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// OpenTarget returns a Ledger on a new client for t (see Target.Client),
// configured by opts. It does not connect, so an application starts while
// Redis is down; run Migrate once before use and Ping for readiness. Close
// the ledger to close the client.
func OpenTarget(t Target, opts Options) (*Ledger, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c, err := t.Client()
	if err != nil {
		return nil, fmt.Errorf("redis ledger: open: %w", err)
	}
	l, err := New(c, opts)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return l, nil
}

// Open is OpenTarget for one node at rawURL.
func Open(rawURL string, opts Options) (*Ledger, error) {
	return OpenTarget(Target{URL: rawURL}, opts)
}
