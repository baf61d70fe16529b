// Package policy loads per-path policy files, picks the policy that governs a request path and
// evaluates it against an identity.
//
// It does no network I/O and does not import Caddy. Loading reports every problem of a directory
// at once, each naming its file and line; matching cost does not grow with the number of files.
package policy

import (
	"time"
)

// Requirement names one kind of requirement a policy can make.
type Requirement string

// Requirements, in the order they are checked when a policy file does not say otherwise.
const (
	ReqLogin    Requirement = "login"
	ReqPhone    Requirement = "phone"
	ReqDocument Requirement = "document"
	ReqAdult    Requirement = "adult"
	ReqMFA      Requirement = "mfa"
)

// Policy is one loaded policy file.
type Policy struct {
	// Name is the policy's name: the `name` key, else the file name without .yaml.
	Name string
	// File and Line locate the policy for error messages.
	File string
	Line int
	// Paths are Caddy path-matcher patterns (case-insensitive; * as prefix, suffix or glob).
	Paths     []string
	pathLines []int
	// Public policies let anyone through; they forward no identity even when one exists.
	Public bool
	// Methods are the request methods let through, upper case; nil means DefaultMethods.
	Methods []string
	// Require lists what a visitor must satisfy.
	Require Require
	// Forward says what reaches the upstream beyond the default assertion claims.
	Forward Forward
}

// Require is the set of requirements of a policy. A nil field is not required.
type Require struct {
	// Order is the order requirements appear in the file; login always comes first.
	Order []Requirement
	// Login lists the accepted login providers; an empty list accepts any configured provider.
	// It is non-nil whenever the policy requires anything, since every fact hangs off a subject.
	Login    []string
	Phone    *Window
	Document *Window
	Adult    *Adult
	MFA      *MFA
	// lines keeps each requirement's line, for provisioning errors.
	lines map[Requirement]int
}

// Window is a freshness window: the fact must be younger than Within.
type Window struct {
	Within time.Duration
}

// Adult is the adult requirement.
type Adult struct {
	// Within is how old the verification behind the birth date may be. Default: 365 days.
	Within time.Duration
	// MinAge is the age of majority. Default: 19 (the Korean Youth Protection Act).
	MinAge int
	// AgeRule is "korean" (calendar year, the default) or "international" (full years).
	AgeRule string
}

// MFA is the step-up requirement.
type MFA struct {
	Within  time.Duration
	Methods []string
}

// Forward lists what a policy sends upstream.
type Forward struct {
	// Claims are extra claims in the assertion (PII only when listed here).
	Claims []string
	// Headers are plain headers for apps that cannot verify a JWT, in file order.
	Headers []Header
}

// Header maps one upstream header to a claim.
type Header struct {
	Name  string
	Claim string
}

// LineOf returns the line of requirement r in the policy file, or the policy's own line.
func (p *Policy) LineOf(r Requirement) int {
	if l, ok := p.Require.lines[r]; ok {
		return l
	}
	return p.Line
}

// Where returns "file:line" of requirement r, for error messages.
func (p *Policy) Where(r Requirement) string {
	return p.File + ":" + itoa(p.LineOf(r))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// DefaultMethods are the methods a policy lets through when its file lists none. Anything else
// (TRACE, WebDAV methods, made-up ones) is answered by the gate and never reaches the upstream.
var DefaultMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// AllowsMethod reports whether the policy lets requests with method m through.
func (p *Policy) AllowsMethod(m string) bool {
	list := p.Methods
	if list == nil {
		switch m {
		case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
			return true
		}
		return false
	}
	for _, v := range list {
		if v == m {
			return true
		}
	}
	return false
}

// Accepts reports whether the policy accepts a login by provider.
func (p *Policy) Accepts(provider string) bool {
	if p.Require.Login == nil {
		return false
	}
	if len(p.Require.Login) == 0 {
		return true
	}
	for _, l := range p.Require.Login {
		if l == provider {
			return true
		}
	}
	return false
}
