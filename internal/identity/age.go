package identity

import (
	"fmt"
	"time"
)

// KST is Korea Standard Time (UTC+9, no daylight saving). The Korean calendar-year rule counts
// years in Korea: at 2026-12-31T15:30Z it is already 2027 in Seoul.
var KST = time.FixedZone("KST", 9*60*60)

// Age rules.
const (
	// RuleKorean is the Youth Protection Act rule: a person is an adult from 1 January of the year
	// in which they turn MinAge (19), counted in Korean time. The birthday itself does not matter.
	RuleKorean = "korean"
	// RuleInternational counts full years since birth. Someone born on 29 February has their
	// birthday on 1 March in common years.
	RuleInternational = "international"
)

// ParseBirthDate parses a verified birth date "yyyy-mm-dd".
func ParseBirthDate(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("identity: birth date %q is not yyyy-mm-dd", s)
	}
	return t, nil
}

// IsAdult reports whether a person born on birth (a calendar date) has reached minAge at now
// under rule. It never reads profile data: birth MUST come from a verification.
func IsAdult(birth time.Time, now time.Time, minAge int, rule string) bool {
	n := now.In(KST)
	if rule == RuleInternational {
		age := n.Year() - birth.Year()
		bm, bd := birth.Month(), birth.Day()
		if bm == time.February && bd == 29 && !isLeap(n.Year()) {
			bm, bd = time.March, 1
		}
		if n.Month() < bm || (n.Month() == bm && n.Day() < bd) {
			age--
		}
		return age >= minAge
	}
	return n.Year()-birth.Year() >= minAge
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }
