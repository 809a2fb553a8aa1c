package dingtalktest

import (
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
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

// SetQPSLimit lets at most n calls of each app through to each robot path in any
// one-second window of the real clock (the strictest reading of DingTalk's "20 calls per
// second", which is per app and API), for every app without a limit of its own
// (SetAppQPSLimit). Calls over it answer 403 Forbidden.AccessDenied.QpsLimitForAppkeyAndApi,
// change no state and do not count against the window. A call whose access token the fake
// never issued counts as the default app's. 0 turns it off.
func (s *Server) SetQPSLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.qpsLimit = n
	clear(s.qpsWindows)
}

// SetAppQPSLimit sets the QPS limit of the app appKey alone, as SetQPSLimit does for
// every app: at most n of its calls per robot path in any one-second window, whatever
// the other apps call. 0 gives the app SetQPSLimit's limit again.
func (s *Server) SetAppQPSLimit(appKey string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.appQPS, appKey)
	} else {
		s.appQPS[appKey] = n
	}
	for k := range s.qpsWindows {
		if strings.HasPrefix(k, appKey+" ") {
			delete(s.qpsWindows, k)
		}
	}
}

// admit applies the QPS limit of app a (nil: the default app) to a call to path.
func (s *Server) admit(path string, a *app) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.appKey
	if a != nil {
		key = a.key
	}
	limit, own := s.appQPS[key]
	if !own {
		limit = s.qpsLimit
	}
	if limit <= 0 {
		return nil
	}
	now := time.Now()
	name := key + " " + path
	window := s.qpsWindows[name]
	for len(window) > 0 && now.Sub(window[0]) >= time.Second {
		window = window[1:]
	}
	if len(window) >= limit {
		s.qpsWindows[name] = window
		return FaultQPSLimit.apiError()
	}
	s.qpsWindows[name] = append(window, now)
	return nil
}

// SetOrgQuota gives the app appKey a quota of n calls: every later call of the app (the
// token call, connections/open and the robot calls, counted once they pass the QPS limit
// and the token check, whatever they answer afterwards) counts against it, and once n
// have, each further call answers 403 Forbidden.AccessDenied.ApiCountLimitForOrg, as
// DingTalk does for an organisation's spent monthly quota, changing nothing. Calls made
// before SetOrgQuota do not count. A negative n lifts the quota.
func (s *Server) SetOrgQuota(appKey string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 0 {
		delete(s.quota, appKey)
	} else {
		s.quota[appKey] = n
	}
	delete(s.quotaUsed, appKey)
}

// OrgQuotaUsed returns how many calls of the app appKey counted against its SetOrgQuota
// quota.
func (s *Server) OrgQuotaUsed(appKey string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quotaUsed[appKey]
}

// chargeQuota counts a call of app a (nil: none known) against its quota, or refuses it
// when the quota is spent.
func (s *Server) chargeQuota(a *app) *apiError {
	if a == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	limit, ok := s.quota[a.key]
	if !ok {
		return nil
	}
	if s.quotaUsed[a.key] >= limit {
		return &apiError{http.StatusForbidden, codeOrgQuotaReached,
			fmt.Sprintf("您的企业本月api调用量已超过限制,调用量:%d次,额度:%d次,请登录开发者后台-资源管理-查看用量明细", s.quotaUsed[a.key]+1, limit)}
	}
	s.quotaUsed[a.key]++
	return nil
}

// ServeBanPage makes the next n calls, from any app and to any path of the open API
// (connections/open included, the WebSocket endpoint not), answer 403 with an HTML page
// (Content-Type text/html) like the one DingTalk shows an IP address it refuses for 5
// minutes, changing nothing. Call.BanPage marks them.
func (s *Server) ServeBanPage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.banPages = max(n, 0)
}

// banPageHTML is the fake's ban page: an HTML document carrying the fields DingTalk's
// is reported to carry (status, wait in minutes, punish "deny").
const banPageHTML = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>访问被拒绝</title></head>
<body><p>您的访问过于频繁，已被暂时限制，请 5 分钟后再试。</p>
<script>var data = {"status": 1111, "wait": 5, "source": "x5", "punish": "deny", "uuid": "dingtalktest"};</script>
</body></html>
`

// banPage answers call with the ban page if ServeBanPage asked for it, and reports
// whether it did.
func (s *Server) banPage(w http.ResponseWriter, call *Call) bool {
	s.mu.Lock()
	if s.banPages <= 0 {
		s.mu.Unlock()
		return false
	}
	s.banPages--
	call.Status, call.BanPage = http.StatusForbidden, true
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, banPageHTML)
	return true
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
