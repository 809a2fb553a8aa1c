package dingtalktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	mathrand "math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Paths of the DingTalk open API calls the fake answers.
const (
	// PathToken obtains an access token.
	PathToken = "/v1.0/oauth2/accessToken"
	// PathGroupSend sends a robot message to a group.
	PathGroupSend = "/v1.0/robot/groupMessages/send"
	// PathPrivateSend sends a robot message to a private (person-to-person) chat.
	PathPrivateSend = "/v1.0/robot/privateChatMessages/send"
	// PathOTOSend sends a robot message one-to-one to up to MaxUserIDs users.
	PathOTOSend = "/v1.0/robot/oToMessages/batchSend"
	// PathGroupRecall recalls robot messages sent to a group.
	PathGroupRecall = "/v1.0/robot/groupMessages/recall"
	// PathPrivateRecall recalls robot messages sent to a private chat.
	PathPrivateRecall = "/v1.0/robot/privateChatMessages/batchRecall"
	// PathOTORecall recalls robot messages sent one-to-one.
	PathOTORecall = "/v1.0/robot/otoMessages/batchRecall"
)

// Limits the fake enforces, as DingTalk documents them.
const (
	// MaxKeys is the most processQueryKeys one recall call may name.
	MaxKeys = 20
	// MaxUserIDs is the most userIds one oToMessages/batchSend call may name.
	MaxUserIDs = 20
	// MaxMsgParamBytes is the largest msgParam a send call may carry.
	MaxMsgParamBytes = 15000
	// RecallWindow is how long after sending a message can be recalled.
	RecallWindow = 24 * time.Hour
)

const (
	defaultAppKey    = "test-app-key"
	defaultAppSecret = "test-app-secret"
	defaultTokenTTL  = 2 * time.Hour
	tokenHeader      = "x-acs-dingtalk-access-token"
	maxBodyBytes     = 1 << 20
)

// Kind is the kind of chat a message went to.
type Kind string

// The kinds of chat a robot sends to.
const (
	// KindGroup is a group chat (groupMessages).
	KindGroup Kind = "group"
	// KindPrivate is a person-to-person chat with the bot installed as a cool app
	// (privateChatMessages).
	KindPrivate Kind = "private"
	// KindOTO is a one-to-one chat with the bot (oToMessages).
	KindOTO Kind = "oto"
)

// Server is a fake DingTalk open API running on an httptest.Server.
type Server struct {
	srv       *httptest.Server
	routes    map[string]route
	closed    chan struct{}
	closeOnce sync.Once
	gw        *gateway // Stream mode gateway (gateway.go)

	// Set by options before the server starts; read-only afterwards.
	appKey, appSecret, robotCode string          // the default app's
	extraApps                    []*app          // WithApp, in order
	apps                         map[string]*app // app key → app, the default one included
	tokenTTL                     time.Duration
	now                          func() time.Time
	invalidStaff                 map[string]bool
	processing                   time.Duration // WithProcessingTime

	mu              sync.Mutex
	tokens          map[string]issuedToken // token → its app and expiry
	messages        map[string]*Message    // processQueryKey → message
	sent            []*Message             // in send order
	recalled        []string               // in recall order
	calls           []*Call                // in arrival order
	attempts        map[string]int         // processQueryKey → recall calls naming it
	inflight        map[string]int         // path ("" = all robot paths) → requests in flight
	peak            map[string]int         // path ("" = all robot paths) → highest inflight
	faults          []faultRule
	keyFailures     map[string]string
	cards           map[string]*Card // outTrackId → card (card.go)
	latency         time.Duration
	qpsLimit        int                    // SetQPSLimit: every app without its own
	appQPS          map[string]int         // app key → SetAppQPSLimit
	qpsWindows      map[string][]time.Time // app key + " " + path → admitted calls
	quota           map[string]int         // app key → SetOrgQuota
	quotaUsed       map[string]int         // app key → calls counted against it
	banPages        int                    // ServeBanPage: calls still to answer with it
	reactions       map[string][]*Reaction // openMsgId → reactions, in the order put
	refusedEmotions map[string]*apiError   // emotionName → the answer RefuseEmotion set
	failRate        float64
	failRNG         *mathrand.Rand
}

// Option configures a Server in New or NewTest.
type Option func(*Server)

// WithCredentials sets the app key and secret the token call accepts (default
// "test-app-key" and "test-app-secret").
func WithCredentials(appKey, appSecret string) Option {
	return func(s *Server) { s.appKey, s.appSecret = appKey, appSecret }
}

// WithRobotCode sets the robotCode send and recall calls must name (default: the app key).
func WithRobotCode(code string) Option {
	return func(s *Server) { s.robotCode = code }
}

// WithApp adds an app beside the default one (WithCredentials, WithRobotCode): its token
// call accepts appKey and appSecret, and its calls must name robotCode (the app key when
// empty). Each app has its own tokens, messages, reactions, cards, QPS limit
// (SetAppQPSLimit), quota (SetOrgQuota) and Stream mode connections. An app key given
// twice keeps the last.
func WithApp(appKey, appSecret, robotCode string) Option {
	return func(s *Server) {
		if robotCode == "" {
			robotCode = appKey
		}
		s.extraApps = append(s.extraApps, &app{key: appKey, secret: appSecret, robotCode: robotCode})
	}
}

// app is one DingTalk app the fake knows.
type app struct {
	key, secret, robotCode string
}

// WithTokenTTL sets how long an issued access token stays valid (default 2h).
func WithTokenTTL(d time.Duration) Option {
	return func(s *Server) { s.tokenTTL = d }
}

// WithClock sets the clock for token expiry, message and call times and the recall window
// (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithInvalidStaffIDs sets staff IDs that oToMessages/batchSend reports in
// invalidStaffIdList.
func WithInvalidStaffIDs(ids ...string) Option {
	return func(s *Server) {
		for _, id := range ids {
			s.invalidStaff[id] = true
		}
	}
}

// New starts a fake DingTalk open API. Call Close when done with it.
func New(opts ...Option) *Server {
	s := &Server{
		closed:          make(chan struct{}),
		appKey:          defaultAppKey,
		appSecret:       defaultAppSecret,
		tokenTTL:        defaultTokenTTL,
		now:             time.Now,
		invalidStaff:    map[string]bool{},
		tokens:          map[string]issuedToken{},
		messages:        map[string]*Message{},
		attempts:        map[string]int{},
		inflight:        map[string]int{},
		peak:            map[string]int{},
		keyFailures:     map[string]string{},
		cards:           map[string]*Card{},
		qpsWindows:      map[string][]time.Time{},
		appQPS:          map[string]int{},
		quota:           map[string]int{},
		quotaUsed:       map[string]int{},
		reactions:       map[string][]*Reaction{},
		refusedEmotions: map[string]*apiError{},
		gw:              newGateway(),
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.robotCode == "" {
		s.robotCode = s.appKey
	}
	s.apps = map[string]*app{}
	for _, a := range s.extraApps {
		s.apps[a.key] = a
	}
	s.apps[s.appKey] = &app{key: s.appKey, secret: s.appSecret, robotCode: s.robotCode}
	s.routes = map[string]route{
		PathToken:         {handle: s.issueToken},
		PathGroupSend:     {robot: true, handle: s.send(KindGroup)},
		PathPrivateSend:   {robot: true, handle: s.send(KindPrivate)},
		PathOTOSend:       {robot: true, handle: s.send(KindOTO)},
		PathGroupRecall:   {robot: true, recall: true, handle: s.recall(KindGroup)},
		PathPrivateRecall: {robot: true, recall: true, handle: s.recall(KindPrivate)},
		PathOTORecall:     {robot: true, recall: true, handle: s.recall(KindOTO)},
		PathGroupStatus:   {robot: true, handle: s.queryStatus(KindGroup)},
		PathPrivateStatus: {robot: true, handle: s.queryStatus(KindPrivate)},
		PathOTOStatus:     {robot: true, get: s.readStatus},
		PathEmotionReply:  {robot: true, handle: s.emotion(false)},
		PathEmotionRecall: {robot: true, handle: s.emotion(true)},
		PathCardDeliver:   {robot: true, handle: s.deliverCard},
		PathCardUpdate:    {robot: true, put: true, handle: s.updateCard},
	}
	s.srv = httptest.NewServer(s.gatewayRoutes(http.HandlerFunc(s.serve)))
	return s
}

// NewTest starts a fake DingTalk open API that is closed when t ends.
func NewTest(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	t.Cleanup(s.Close)
	return s
}

// URL returns the base URL of the fake, to use in place of https://api.dingtalk.io.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the fake. Calls waiting out SetLatency are cut off without an answer. It is
// safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// AppKey returns the app key the token call accepts.
func (s *Server) AppKey() string { return s.appKey }

// AppSecret returns the app secret the token call accepts.
func (s *Server) AppSecret() string { return s.appSecret }

// RobotCode returns the robotCode send and recall calls must name.
func (s *Server) RobotCode() string { return s.robotCode }

// route is one API call the fake answers.
type route struct {
	robot  bool // needs a token; subject to latency, the QPS limit and FailNext
	recall bool // names processQueryKeys; subject to SetRecallFailRate
	put    bool // a PUT call (card updates)
	handle handlerFunc
	get    func(*app, url.Values) (any, []string, *apiError) // a GET call, answered from its query string
}

// method is the HTTP method of the call.
func (rt route) method() string {
	switch {
	case rt.get != nil:
		return http.MethodGet
	case rt.put:
		return http.MethodPut
	}
	return http.MethodPost
}

// handlerFunc answers a call of app a (nil for the token call) whose body passed the
// common checks. keys, when not nil, replace the keys recorded for the call (sends record
// the key they issue).
type handlerFunc func(a *app, body []byte) (result any, keys []string, err *apiError)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	rt, known := s.routes[path]
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var named []string
	if rt.recall {
		named = requestedKeys(body)
	}
	a := s.appOf(path, r.Header.Get(tokenHeader), body)
	call := s.arrive(path, rt.robot, named, a)
	defer s.depart(path, rt.robot)

	if s.banPage(w, call) {
		return
	}
	if rt.robot && !s.wait(r.Context()) {
		panic(http.ErrAbortHandler) // no answer at all, not an empty 200; Status stays 0
	}
	apiErr := s.gate(r, rt, known, readErr, a)
	var result any
	var keys []string
	if apiErr == nil && rt.get != nil {
		result, keys, apiErr = rt.get(a, r.URL.Query())
	} else if apiErr == nil {
		result, keys, apiErr = rt.handle(a, body)
	}
	if apiErr != nil {
		s.finish(call, apiErr.status, apiErr.code, nil)
		writeJSON(w, apiErr.status, errorBody{Code: apiErr.code, Message: apiErr.message, RequestID: randomHex(16)})
		return
	}
	s.finish(call, http.StatusOK, "", keys)
	writeJSON(w, http.StatusOK, result)
}

// gate runs the checks every call of app a passes before its handler, in the documented
// order.
func (s *Server) gate(r *http.Request, rt route, known bool, readErr error, a *app) *apiError {
	switch {
	case !known:
		return &apiError{http.StatusNotFound, "InvalidAction.NotFound", "no such API: " + r.URL.Path}
	case r.Method != rt.method():
		return &apiError{http.StatusMethodNotAllowed, "InvalidAction.MethodNotAllowed", "use " + rt.method() + ", not " + r.Method}
	}
	if rt.robot {
		if err := s.admit(r.URL.Path, a); err != nil {
			return err
		}
		if err := s.authenticate(r.Header.Get(tokenHeader)); err != nil {
			return err
		}
	}
	if err := s.chargeQuota(a); err != nil {
		return err
	}
	if err := s.injectedFault(r.URL.Path, rt); err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); rt.get == nil && mt != "application/json" {
		return invalidParam("content type must be application/json")
	}
	if readErr != nil {
		return invalidParam("request body is unreadable or too large")
	}
	return nil
}

// wait holds a robot call for the configured latency; it reports false when the request
// or the server ended first.
func (s *Server) wait(ctx context.Context) bool {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode parses a JSON request body into v.
func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return invalidParam("malformed JSON body: " + err.Error())
	}
	return nil
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails, see crypto/rand.Read
	return hex.EncodeToString(b)
}
