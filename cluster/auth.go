package cluster

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Peers authenticate with "Authorization: Cluster <unix_ts>:<hex sha1("<unix_ts>:<cluster_key>")>".
// The key never travels; the timestamp bounds how long a captured header can
// be replayed (MaxClockSkew either side).
const authScheme = "Cluster"

// maxAuthorizationLen bounds the header Verify reads: the scheme, a 19-digit
// timestamp and 40 hex digits fit well within it.
const maxAuthorizationLen = 128

// Sign is the Authorization header value proving knowledge of key at now.
func Sign(key string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	sum := sha1.Sum([]byte(ts + ":" + key))
	return authScheme + " " + ts + ":" + hex.EncodeToString(sum[:])
}

// Verify checks an Authorization header against key at now: the scheme is
// "Cluster" (any case), the timestamp is decimal unix seconds at most
// MaxClockSkew away from now, and the digest matches (compared in constant
// time). An empty key verifies nothing: peering is off.
func Verify(key, authorization string, now time.Time) error {
	if key == "" {
		return errors.New("peering is off on this server (no cluster_key)")
	}
	if authorization == "" {
		return errors.New("missing Authorization: Cluster header")
	}
	if len(authorization) > maxAuthorizationLen {
		return fmt.Errorf("authorization header longer than %d bytes", maxAuthorizationLen)
	}
	scheme, credentials, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, authScheme) {
		return errors.New("want Authorization: Cluster <unix_ts>:<sha1 hex>")
	}
	tsText, digestHex, ok := strings.Cut(credentials, ":")
	if !ok {
		return errors.New("want Authorization: Cluster <unix_ts>:<sha1 hex>")
	}
	ts, err := parseUnixSeconds(tsText)
	if err != nil {
		return err
	}
	if skew := now.Unix() - ts; skew > int64(MaxClockSkew/time.Second) || skew < -int64(MaxClockSkew/time.Second) {
		return fmt.Errorf("timestamp is %d s off this server's clock (more than %d s): check the clocks", skew, int64(MaxClockSkew/time.Second))
	}
	// Decoded into an array: Verify runs on the event loop for every poll.
	var digest [sha1.Size]byte
	if len(digestHex) != hex.EncodedLen(sha1.Size) {
		return errors.New("digest is not 40 hex digits")
	}
	if _, err := hex.Decode(digest[:], []byte(digestHex)); err != nil {
		return errors.New("digest is not 40 hex digits")
	}
	want := sha1.Sum([]byte(tsText + ":" + key))
	if subtle.ConstantTimeCompare(digest[:], want[:]) != 1 {
		return errors.New("wrong cluster_key")
	}
	return nil
}

// parseUnixSeconds reads 1 to 19 decimal digits, no sign, within int64.
func parseUnixSeconds(s string) (int64, error) {
	n, err := parseDecimal(s, 19)
	if err != nil {
		return 0, fmt.Errorf("timestamp: %w", err)
	}
	if n > math.MaxInt64 {
		return 0, errors.New("timestamp out of range")
	}
	return int64(n), nil
}
