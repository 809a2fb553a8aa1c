package dingtalktest

import (
	"fmt"
	mathrand "math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// Fault is an error answer FailNext and FailNextOn inject.
type Fault int

// The faults the fake injects.
const (
	// FaultSystemError answers 500 system.error (retryable).
	FaultSystemError Fault = iota + 1
	// FaultQPSLimit answers 403 Forbidden.AccessDenied.QpsLimitForAppkeyAndApi (retry
	// after about a second).
	FaultQPSLimit
	// FaultOrgQuota answers 403 Forbidden.AccessDenied.ApiCountLimitForOrg (the monthly
	// quota is spent; not retryable).
	FaultOrgQuota
)

// apiError returns the answer f stands for; it panics on a Fault that is not one of the
// constants, a mistake in the calling test.
func (f Fault) apiError() *apiError {
	switch f {
	case FaultSystemError:
		return &apiError{http.StatusInternalServerError, codeSystemError, "unknown system error"}
	case FaultQPSLimit:
		return &apiError{http.StatusForbidden, codeQPSLimit, "too many calls to this API per second"}
	case FaultOrgQuota:
		return &apiError{http.StatusForbidden, codeOrgQuotaReached, "the organization's monthly API call quota is spent"}
	}
	panic(fmt.Sprintf("dingtalktest: unknown fault %d", int(f)))
}

// faultRule answers the next remaining calls to path ("" = any robot path) with err.
type faultRule struct {
	path      string
	remaining int
	err       *apiError
}

// FailNext makes the next n robot calls (every path but the token path) that pass the
// QPS limit and the token check fail with f, without changing any state.
func (s *Server) FailNext(n int, f Fault) {
	s.addFault("", n, f.apiError())
}

// FailNextOn makes the next n calls to path that pass the QPS limit and the token check
// fail with f, without changing any state. path may be PathToken.
func (s *Server) FailNextOn(path string, n int, f Fault) {
	s.addFault(path, n, f.apiError())
}

// FailCallWith makes the next n calls to path that pass the QPS limit and the token check
// answer status with code and message (for example 400 bot.stopped), without changing
// any state. path may be PathToken.
func (s *Server) FailCallWith(path string, n, status int, code, message string) {
	s.addFault(path, n, &apiError{status, code, message})
}

func (s *Server) addFault(path string, n int, err *apiError) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faultRule{path: path, remaining: n, err: err})
}

// injectedFault returns the fault the call to path must answer, if any: the oldest
// matching rule first, then the random recall failure rate.
func (s *Server) injectedFault(path string, rt route) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		rule := &s.faults[i]
		if rule.path != path && (rule.path != "" || !rt.robot) {
			continue
		}
		err := rule.err
		if rule.remaining--; rule.remaining == 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return err
	}
	if rt.recall && s.failRate > 0 && s.failRNG.Float64() < s.failRate {
		return []Fault{FaultSystemError, FaultQPSLimit}[s.failRNG.IntN(2)].apiError()
	}
	return nil
}

// SetLatency delays every robot call (not the token call) by d before it is answered. A
// request whose context ends first gets no answer and changes no state. 0 turns it off.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetQPSLimit lets at most n calls through to each robot path in any one-second window
// of the real clock (the strictest reading of DingTalk's "20 calls per second"). Calls over
// it answer 403 Forbidden.AccessDenied.QpsLimitForAppkeyAndApi, change no state and do not
// count against the window. 0 turns it off.
func (s *Server) SetQPSLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.qpsLimit = n
	clear(s.qpsWindows)
}

// admit applies the QPS limit to a call to path.
func (s *Server) admit(path string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.qpsLimit <= 0 {
		return nil
	}
	now := time.Now()
	window := s.qpsWindows[path]
	for len(window) > 0 && now.Sub(window[0]) >= time.Second {
		window = window[1:]
	}
	if len(window) >= s.qpsLimit {
		s.qpsWindows[path] = window
		return FaultQPSLimit.apiError()
	}
	s.qpsWindows[path] = append(window, now)
	return nil
}

// SetRecallFailRate makes each recall call, after the other checks, fail as a whole with
// probability p, answering 500 system.error or 403
// Forbidden.AccessDenied.QpsLimitForAppkeyAndApi at random. The draws come from a
// generator seeded with seed, so the same sequence of recall calls fails the same way.
// 0 turns it off.
func (s *Server) SetRecallFailRate(p float64, seed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRate = p
	s.failRNG = mathrand.New(mathrand.NewPCG(uint64(seed), 0))
}
