package netio

import (
	"net/netip"
	"sync"
)

// ipShards spreads the per-address counters over independent locks, so
// loops accepting at the same time rarely wait for each other.
const ipShards = 64

// ipLimiter counts open connections per client address, shared by all
// loops: acquire and release are O(1) under one shard's lock.
type ipLimiter struct {
	limit  int // NoLimit: count nothing
	shards [ipShards]ipShard
}

type ipShard struct {
	mu    sync.Mutex
	conns map[netip.Addr]int32
	_     [40]byte // keeps neighbouring shards' locks off one cache line
}

func newIPLimiter(limit int) *ipLimiter {
	l := &ipLimiter{limit: limit}
	for i := range l.shards {
		l.shards[i].conns = make(map[netip.Addr]int32)
	}
	return l
}

// ipKey is what the limit counts by: the address itself for IPv4, the /64
// for IPv6 (a host gets a whole /64 and picks addresses in it at will).
func ipKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

func (l *ipLimiter) shard(key netip.Addr) *ipShard {
	// FNV-1a over the address bytes.
	b := key.As16()
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return &l.shards[h%ipShards]
}

// acquire counts a connection from key unless that key is at the limit.
func (l *ipLimiter) acquire(key netip.Addr) bool {
	if l.limit == NoLimit {
		return true
	}
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := sh.conns[key]
	if int(n) >= l.limit {
		return false
	}
	sh.conns[key] = n + 1
	return true
}

// release uncounts a connection acquire admitted.
func (l *ipLimiter) release(key netip.Addr) {
	if l.limit == NoLimit {
		return
	}
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if n := sh.conns[key]; n > 1 {
		sh.conns[key] = n - 1
	} else {
		delete(sh.conns, key) // the map holds only addresses with connections
	}
}
