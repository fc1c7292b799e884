package cluster

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/perf"
)

// LoadHeader carries a server's load on every answer to a table poll, 200
// and 304 alike, so load stays fresh while an unchanged table costs nothing:
//
//	X-Cluster-Load: clients=12 output_kbit=3400 max_bitrate_kbit=10000000
//
// Space-separated key=value pairs of unsigned decimal integers: clients
// (viewers served) and output_kbit (kbit/s sent to viewers) are required;
// max_bitrate_kbit is the server's limit, 0 or absent for none. A reader
// ignores keys it does not know (a newer server may add some) and rejects a
// value over 2^64-1 (clients: over the int range), a repeated key, a pair
// without '=' and a header over maxLoadHeaderLen bytes.
const LoadHeader = "X-Cluster-Load"

const maxLoadHeaderLen = 512

// formatLoad is the LoadHeader value of a load.
func formatLoad(load perf.Load, maxBitrateKbit uint64) string {
	b := make([]byte, 0, 96)
	b = append(b, "clients="...)
	b = strconv.AppendUint(b, uint64(max(load.Clients, 0)), 10)
	b = append(b, " output_kbit="...)
	b = strconv.AppendUint(b, load.OutputKbit, 10)
	b = append(b, " max_bitrate_kbit="...)
	b = strconv.AppendUint(b, maxBitrateKbit, 10)
	return string(b)
}

// parseLoad reads a LoadHeader value from a peer: untrusted input.
func parseLoad(v string) (load perf.Load, maxBitrateKbit uint64, err error) {
	if v == "" {
		return perf.Load{}, 0, fmt.Errorf("no %s header", LoadHeader)
	}
	if len(v) > maxLoadHeaderLen {
		return perf.Load{}, 0, fmt.Errorf("%s header longer than %d bytes", LoadHeader, maxLoadHeaderLen)
	}
	var seenClients, seenOutput, seenMax bool
	for _, pair := range strings.Fields(v) {
		key, value, ok := strings.Cut(pair, "=")
		if !ok || key == "" {
			return perf.Load{}, 0, fmt.Errorf("%s: %s is not key=value", LoadHeader, engine.QuoteShort(pair))
		}
		var seen *bool
		switch key {
		case "clients":
			seen = &seenClients
		case "output_kbit":
			seen = &seenOutput
		case "max_bitrate_kbit":
			seen = &seenMax
		default:
			continue
		}
		if *seen {
			return perf.Load{}, 0, fmt.Errorf("%s: %s repeated", LoadHeader, key)
		}
		*seen = true
		n, err := parseDecimal(value, 20)
		if err != nil {
			return perf.Load{}, 0, fmt.Errorf("%s: %s: %w", LoadHeader, key, err)
		}
		switch key {
		case "clients":
			if n > math.MaxInt {
				return perf.Load{}, 0, fmt.Errorf("%s: clients out of range", LoadHeader)
			}
			load.Clients = int(n)
		case "output_kbit":
			load.OutputKbit = n
		case "max_bitrate_kbit":
			maxBitrateKbit = n
		}
	}
	if !seenClients || !seenOutput {
		return perf.Load{}, 0, fmt.Errorf("%s: clients and output_kbit are required", LoadHeader)
	}
	return load, maxBitrateKbit, nil
}

// parseDecimal reads 1 to maxDigits decimal digits (at most 20, the width
// of 2^64-1), no sign, into a uint64.
func parseDecimal(s string, maxDigits int) (uint64, error) {
	if s == "" || len(s) > maxDigits {
		return 0, fmt.Errorf("want 1 to %d decimal digits", maxDigits)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("want decimal digits")
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("out of range")
	}
	return n, nil
}
