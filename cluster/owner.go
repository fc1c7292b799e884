package cluster

// cluster_ingest ownership. Every server of a group computes the owner of a
// stream the same way, from nothing but the stream's name, its capture_at
// and the names of the servers it sees live:
//
//   - capture_at, when that server is live;
//   - else rendezvous (highest random weight) hashing: each live server
//     scores hash(stream, server) and the highest score wins; equal scores
//     (never seen in practice) go to the smaller name.
//
// Rendezvous hashing spreads streams evenly, and a join or leave moves only
// the streams won by (join) or owned by (leave) that server: about 1/N of
// them. The hash is part of the wire contract between servers of a group:
// servers running different hashes would each own different streams, so it
// never changes without a version bump of the table.
//
// The hash: k(stream) = mix(fnv1a(stream)), k(server) = mix(fnv1a(server) ^
// serverSalt), score = mix(k(stream) ^ k(server)), where fnv1a is 64-bit
// FNV-1a and mix is MurmurHash3's 64-bit finalizer. The per-server key is
// computed once per snapshot, so owning a stream costs one pass over its
// name plus one multiply-xor round per live server, and no allocation.

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
	serverSalt  = 0x9e3779b97f4a7c15
)

// IngestOwner is the server that captures a cluster_ingest stream: captureAt
// when it is among live, else the live server with the highest rendezvous
// score for stream. "" when live is empty. live holds server names (each
// server's Self), this server included; order and duplicates do not matter.
func IngestOwner(stream, captureAt string, live []string) string {
	if len(live) == 0 {
		return ""
	}
	if captureAt != "" {
		for _, server := range live {
			if server == captureAt {
				return captureAt
			}
		}
	}
	sk := streamKey(stream)
	best := live[0]
	bestScore := rendezvousScore(sk, serverKey(best))
	for _, server := range live[1:] {
		score := rendezvousScore(sk, serverKey(server))
		if score > bestScore || score == bestScore && server < best {
			best, bestScore = server, score
		}
	}
	return best
}

func fnv1a(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// mix64 is MurmurHash3's finalizer: every input bit flips each output bit
// with probability close to 1/2, which FNV alone does not give for names
// that differ in their last characters (edge1, edge2).
func mix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

func streamKey(stream string) uint64 { return mix64(fnv1a(stream)) }

func serverKey(server string) uint64 { return mix64(fnv1a(server) ^ serverSalt) }

func rendezvousScore(streamKey, serverKey uint64) uint64 { return mix64(streamKey ^ serverKey) }
