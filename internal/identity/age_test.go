package identity

import (
	"testing"
	"time"
)

func kst(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, KST) }

func date(s string) time.Time {
	t, err := ParseBirthDate(s)
	if err != nil {
		panic(err)
	}
	return t
}

type ageCase struct {
	name  string
	birth string
	now   time.Time
	rule  string
	adult bool
}

func (c ageCase) run(t *testing.T) {
	if got := IsAdult(date(c.birth), c.now, 19, c.rule); got != c.adult {
		t.Fatalf("IsAdult(%s, %s, 19, %s) = %v, want %v", c.birth, c.now.Format(time.RFC3339), c.rule, got, c.adult)
	}
}

func TestKoreanCalendarYearRule(t *testing.T) {
	for _, c := range []ageCase{
		{"born 1 January, 19th calendar year starts", "2007-01-01", kst(2026, 1, 1, 0, 0), RuleKorean, true},
		{"born 31 December, adult from 1 January of the year they turn 19", "2007-12-31", kst(2026, 1, 1, 0, 0), RuleKorean, true},
		{"born 31 December, last day before that year", "2007-12-31", kst(2025, 12, 31, 23, 59), RuleKorean, false},
		{"born 1 January, still 18th calendar year on 31 December", "2008-01-01", kst(2026, 12, 31, 23, 59), RuleKorean, false},
		{"born 1 January 2008 becomes adult at midnight KST 2027", "2008-01-01", kst(2027, 1, 1, 0, 0), RuleKorean, true},
		{"UTC still in 2026 but Seoul already in 2027", "2008-06-15", time.Date(2026, 12, 31, 15, 30, 0, 0, time.UTC), RuleKorean, true},
		{"UTC in 2026, Seoul in 2026", "2008-06-15", time.Date(2026, 12, 31, 14, 59, 0, 0, time.UTC), RuleKorean, false},
		{"leap-day birth under the Korean rule", "2008-02-29", kst(2027, 1, 1, 0, 0), RuleKorean, true},
		{"the 2020 example: born 2002-01-01 is a youth in 2020", "2002-01-01", kst(2020, 6, 1, 0, 0), RuleKorean, false},
		{"the 2020 example: born 2001-12-31 is an adult in 2020", "2001-12-31", kst(2020, 1, 1, 0, 0), RuleKorean, true},
	} {
		t.Run(c.name, c.run)
	}
}

func TestInternationalFullYears(t *testing.T) {
	for _, c := range []ageCase{
		{"the day before the 19th birthday", "2007-06-15", kst(2026, 6, 14, 23, 59), RuleInternational, false},
		{"on the 19th birthday", "2007-06-15", kst(2026, 6, 15, 0, 0), RuleInternational, true},
		{"born 31 December, adult by the Korean rule but not by full years", "2007-12-31", kst(2026, 1, 1, 0, 0), RuleInternational, false},
		{"leap day: not yet on 28 February of a common year", "2007-02-28", kst(2026, 2, 27, 12, 0), RuleInternational, false},
		{"leap-day birth: 28 February of a common year is still 18", "2008-02-29", kst(2027, 2, 28, 12, 0), RuleInternational, false},
		{"leap-day birth: 1 March of a common year is 19", "2008-02-29", kst(2027, 3, 1, 0, 0), RuleInternational, true},
		{"leap-day birth in a leap year: 29 February", "2004-02-29", kst(2024, 2, 29, 0, 0), RuleInternational, true},
	} {
		t.Run(c.name, c.run)
	}
}

func TestParseBirthDate(t *testing.T) {
	for _, bad := range []string{"", "1990", "1990-13-01", "1990-02-30", "90-01-01", "1990/01/01"} {
		if _, err := ParseBirthDate(bad); err == nil {
			t.Errorf("ParseBirthDate(%q) accepted", bad)
		}
	}
}

func TestLatestAndWithVerification(t *testing.T) {
	id := &Identity{Verified: []Verification{{Kind: KindPhone, At: 10}, {Kind: KindDocument, At: 5}}}
	id.Verified = id.WithVerification(Verification{Kind: KindPhone, At: 20, BirthDate: "1990-01-01"})
	if len(id.Verified) != 2 || id.Latest(KindPhone).At != 20 || id.Latest(KindDocument).At != 5 {
		t.Fatalf("verified = %+v", id.Verified)
	}
	if (*Identity)(nil).Latest(KindPhone) != nil {
		t.Fatal("nil identity has a verification")
	}
}
