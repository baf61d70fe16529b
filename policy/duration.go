package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a duration such as "365d", "10m", "1d12h" or "90s".
//
// Units are s, m, h and d (24 hours). A bare number, a negative value, an unknown unit or a
// value that overflows is an error; it does not accept Go's ms/us/ns, which no policy needs.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q: expected a number", orig)
		}
		if i == len(s) {
			return 0, fmt.Errorf("invalid duration %q: missing unit (s, m, h or d)", orig)
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %w", orig, err)
		}
		var unit time.Duration
		switch s[i] {
		case 's':
			unit = time.Second
		case 'm':
			unit = time.Minute
		case 'h':
			unit = time.Hour
		case 'd':
			unit = 24 * time.Hour
		default:
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q (use s, m, h or d)", orig, s[i])
		}
		if n > int64((1<<63-1)/unit) {
			return 0, fmt.Errorf("invalid duration %q: too large", orig)
		}
		d := time.Duration(n) * unit
		if total > (1<<63-1)-d {
			return 0, fmt.Errorf("invalid duration %q: too large", orig)
		}
		total += d
		s = s[i+1:]
	}
	if total == 0 {
		return 0, fmt.Errorf("invalid duration %q: must be positive", orig)
	}
	return total, nil
}
