package dingtalktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The Stream mode gateway. POST /v1.0/gateway/connections/open issues a single-use ticket
// and answers {"endpoint": "ws://<fake host>/connect", "ticket": "…"}; a WebSocket dial of
// /connect?ticket=… opens a connection the test (or the sandbox) drives: Push,
// PushCallback, PushRaw, SendPing, SendDisconnect, Redeliver, CloseConnection,
// DropConnection, StopPongs and RefuseDials, inspected with Tickets, Dials, Connections,
// Frames, Acks, AcksFor and Unacked.
//
// Where the gateway differs from DingTalk's:
//   - The endpoint is plain ws:// on the fake's host, never wss://.
//   - connections/open checks clientId and clientSecret against the apps the fake knows
//     (WithCredentials, WithApp), and the ticket and its connection belong to that app; it wants
//     at least one subscription of type EVENT or CALLBACK with a topic; it pushes only what
//     the test asks for, whatever was subscribed. Without Accept: application/json it
//     answers 406 with an XML body (DingTalk is said to answer XML; its status is not
//     documented). Its other error answers are those of the rest of the fake, and
//     FailNextOn(PathGatewayOpen, …) injects faults into it.
//   - A ticket expires TicketTTL after issue by the fake's clock (WithClock). Unknown or
//     missing tickets answer 401 and used or expired ones 403, before the upgrade, with a
//     plain text body; RefuseDials answers 503 and spends the ticket.
//   - Nothing is delivered again by itself: a frame is never retried when its ack is late
//     or missing. Tests play DingTalk's part with Unacked and Redeliver.
//   - A disconnect frame is followed by a normal close after WithDisconnectDelay (default
//     DefaultDisconnectDelay, real time); messageIds are random hex, and the fake's own
//     frames carry every header as a string.

// Paths, frame types and topics of DingTalk's Stream mode gateway.
const (
	// PathGatewayOpen obtains a ticket and the WebSocket endpoint to dial with it.
	PathGatewayOpen = "/v1.0/gateway/connections/open"
	// PathGatewayConnect is the WebSocket endpoint connections/open answers with; it
	// takes the ticket as the query parameter "ticket".
	PathGatewayConnect = "/connect"

	// FrameSystem is the type of the gateway's own frames (ping, disconnect).
	FrameSystem = "SYSTEM"
	// FrameEvent is the type of event subscription frames.
	FrameEvent = "EVENT"
	// FrameCallback is the type of callback frames, robot messages among them.
	FrameCallback = "CALLBACK"

	// TopicPing is the SYSTEM topic the client answers with the frame's own data.
	TopicPing = "ping"
	// TopicDisconnect is the SYSTEM topic announcing that the gateway will close the
	// connection soon.
	TopicDisconnect = "disconnect"
	// TopicBotMessage is the CALLBACK topic of robot messages; its data is the body of an
	// HTTP-mode robot callback.
	TopicBotMessage = "/v1.0/im/bot/messages/get"

	// TicketTTL is how long a ticket from connections/open may be used to dial.
	TicketTTL = 90 * time.Second
	// DefaultDisconnectDelay is how long after a disconnect frame the gateway closes the
	// connection, unless WithDisconnectDelay says otherwise.
	DefaultDisconnectDelay = 10 * time.Second
)

// ErrNoConnection is returned by the gateway's push methods when no client connection
// is live, or the one named is not.
var ErrNoConnection = errors.New("dingtalktest: no such live gateway connection")

// Subscription is one topic a client subscribed to in connections/open.
type Subscription struct {
	Type  string `json:"type"`
	Topic string `json:"topic"`
}

// Ticket is a ticket the gateway issued.
type Ticket struct {
	// Value is the ticket itself.
	Value string
	// IssuedAt is when the fake's clock said it was issued.
	IssuedAt time.Time
	// Used reports whether a dial presented it (accepted or refused with RefuseDials).
	Used bool
	// UsedAt is when the fake's clock said it was used.
	UsedAt time.Time
	// UA and Subscriptions are what the connections/open call asked with.
	UA            string
	Subscriptions []Subscription
	// AppKey is the app whose clientId and clientSecret obtained it.
	AppKey string
}

// Dial is one request to the WebSocket endpoint.
type Dial struct {
	// At is when the fake's clock said the dial arrived.
	At time.Time
	// Ticket is the ticket it presented ("" when none).
	Ticket string
	// Accepted reports whether it became a connection.
	Accepted bool
	// Status is http.StatusSwitchingProtocols for an accepted dial, otherwise the
	// refusal's HTTP status: 401 unknown ticket, 403 used or expired ticket, 503 refused
	// by RefuseDials, or what the upgrade answered to a request that is not a valid
	// WebSocket handshake (400, 405, 426).
	Status int
	// Reason says why a dial was refused.
	Reason string
	// ConnID is the connection an accepted dial opened.
	ConnID string
}

// Connection is a live client connection to the gateway.
type Connection struct {
	// ID is the connectionId the gateway puts in the headers of its frames.
	ID string
	// Ticket is the ticket the connection was opened with.
	Ticket string
	// OpenedAt is when the fake's clock said it was accepted.
	OpenedAt time.Time
	// Draining reports whether the gateway sent it a disconnect frame.
	Draining bool
	// Pings counts the WebSocket pings the client sent on it.
	Pings int
	// AppKey is the app whose ticket opened it: its frames carry the app's key as
	// appId, and PushCallback fills in the app's robotCode.
	AppKey string
}

// Frame is a frame the gateway sent.
type Frame struct {
	// ConnID is the connection it went to.
	ConnID string
	// Type is FrameSystem, FrameEvent or FrameCallback ("" for PushRaw).
	Type string
	// Topic and MessageID are the frame's headers.
	Topic, MessageID string
	// Data is the frame's data string.
	Data string
	// At is when the fake's clock said it was sent.
	At time.Time

	raw []byte
}

// Ack is an acknowledgement a client sent.
type Ack struct {
	// ConnID is the connection it arrived on.
	ConnID string
	// MessageID is headers.messageId.
	MessageID string
	// Code is the ack's code: 200 ok, 404 no handler, 500 handler failed (0 when the
	// message did not decode).
	Code int
	// Message and Data are the ack's fields.
	Message, Data string
	// Raw is the message as received.
	Raw string
	// At is when the fake's clock said it arrived.
	At time.Time
}

// WithDisconnectDelay sets how long after a disconnect frame the gateway closes the
// connection (default DefaultDisconnectDelay); 0 leaves it open until CloseConnection,
// DropConnection or the client closes it.
func WithDisconnectDelay(d time.Duration) Option {
	return func(s *Server) { s.gw.disconnectDelay = d }
}

// gateway is the Stream mode part of the fake.
type gateway struct {
	disconnectDelay time.Duration // set by options; read-only afterwards

	mu      sync.Mutex
	tickets map[string]*Ticket
	issued  []*Ticket // in issue order
	dials   []Dial
	frames  []Frame
	acks    []Ack
	conns   map[string]*gatewayConn // live connections
	seq     int                     // connections accepted so far
	refuse  int                     // dials still to refuse
}

func newGateway() *gateway {
	return &gateway{
		disconnectDelay: DefaultDisconnectDelay,
		tickets:         map[string]*Ticket{},
		conns:           map[string]*gatewayConn{},
	}
}

// gatewayConn is one accepted WebSocket connection.
type gatewayConn struct {
	id, ticket string
	app        *app
	openedAt   time.Time
	seq        int
	ws         *websocket.Conn
	noPongs    atomic.Bool
	pings      atomic.Int64
	writeMu    sync.Mutex // one writer at a time, so frames keep their order

	// Guarded by gateway.mu.
	draining   bool
	closeTimer *time.Timer
}

// write sends one text message on the connection.
func (c *gatewayConn) write(raw []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, raw); err != nil {
		return fmt.Errorf("dingtalktest: writing to %s: %w", c.id, err)
	}
	return nil
}

// gatewayRoutes answers the gateway's two paths and hands every other request to next.
func (s *Server) gatewayRoutes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathGatewayOpen:
			s.openConnection(w, r)
		case PathGatewayConnect:
			s.connect(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// Wire types of connections/open and of the frames.
type (
	openRequest struct {
		ClientID      string         `json:"clientId"`
		ClientSecret  string         `json:"clientSecret"`
		Subscriptions []Subscription `json:"subscriptions"`
		UA            string         `json:"ua"`
		LocalIP       string         `json:"localIp"`
	}
	openResponse struct {
		Endpoint string `json:"endpoint"`
		Ticket   string `json:"ticket"`
	}
	wireFrame struct {
		SpecVersion string            `json:"specVersion"`
		Type        string            `json:"type"`
		Headers     map[string]string `json:"headers"`
		Data        string            `json:"data"`
	}
	wireAck struct {
		Code    int               `json:"code"`
		Headers map[string]string `json:"headers"`
		Message string            `json:"message"`
		Data    string            `json:"data"`
	}
)

// openConnection answers POST /v1.0/gateway/connections/open. Checks run in this order:
// the ban page (ServeBanPage), method, injected faults (FailNextOn(PathGatewayOpen, …)),
// Accept, content type, body, credentials (those of any app the fake knows), the app's
// quota (SetOrgQuota), subscriptions.
func (s *Server) openConnection(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var probe openRequest
	_ = json.Unmarshal(body, &probe)
	a := s.credentials(probe.ClientID, probe.ClientSecret)
	call := s.arrive(PathGatewayOpen, false, nil, a)
	defer s.depart(PathGatewayOpen, false)
	if s.banPage(w, call) {
		return
	}

	res, apiErr := s.issueTicket(r, body, readErr)
	if apiErr != nil {
		s.finish(call, apiErr.status, apiErr.code, nil)
		if apiErr.status == http.StatusNotAcceptable {
			// What DingTalk is said to do without Accept: answer in XML.
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(apiErr.status)
			fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", apiErr.code, apiErr.message)
			return
		}
		writeJSON(w, apiErr.status, errorBody{Code: apiErr.code, Message: apiErr.message, RequestID: randomHex(16)})
		return
	}
	s.finish(call, http.StatusOK, "", nil)
	writeJSON(w, http.StatusOK, res)
}

// issueTicket checks a connections/open call and issues its ticket.
func (s *Server) issueTicket(r *http.Request, body []byte, readErr error) (*openResponse, *apiError) {
	if r.Method != http.MethodPost {
		return nil, &apiError{http.StatusMethodNotAllowed, "InvalidAction.MethodNotAllowed", "use POST, not " + r.Method}
	}
	if err := s.injectedFault(PathGatewayOpen, route{}); err != nil {
		return nil, err
	}
	if !acceptsJSON(r.Header.Values("Accept")) {
		return nil, &apiError{http.StatusNotAcceptable, "InvalidAccept", "send Accept: application/json"}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return nil, invalidParam("content type must be application/json")
	}
	if readErr != nil {
		return nil, invalidParam("request body is unreadable or too large")
	}
	var req openRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	a := s.credentials(req.ClientID, req.ClientSecret)
	if a == nil {
		return nil, badRequest(codeBadCredentials, "clientId or clientSecret is wrong")
	}
	if err := s.chargeQuota(a); err != nil {
		return nil, err
	}
	if len(req.Subscriptions) == 0 {
		return nil, invalidParam("subscriptions must not be empty")
	}
	for _, sub := range req.Subscriptions {
		if (sub.Type != FrameEvent && sub.Type != FrameCallback) || sub.Topic == "" {
			return nil, invalidParam(fmt.Sprintf("subscription %+v: want type EVENT or CALLBACK and a topic", sub))
		}
	}
	t := &Ticket{Value: randomHex(16), IssuedAt: s.now(), UA: req.UA, Subscriptions: slices.Clone(req.Subscriptions), AppKey: a.key}
	s.gw.mu.Lock()
	s.gw.tickets[t.Value] = t
	s.gw.issued = append(s.gw.issued, t)
	s.gw.mu.Unlock()
	return &openResponse{Endpoint: "ws://" + r.Host + PathGatewayConnect, Ticket: t.Value}, nil
}

// acceptsJSON reports whether Accept header values name application/json.
func acceptsJSON(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "application/json" {
				return true
			}
		}
	}
	return false
}

// connect answers the WebSocket endpoint: it checks the ticket, spends it, upgrades and
// then reads acknowledgements until the connection ends.
func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	c, dial, status, reason := s.admitDial(ticket)
	if c == nil {
		http.Error(w, reason, status)
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	ws, err := websocket.Accept(rec, r, &websocket.AcceptOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			c.pings.Add(1)
			return !c.noPongs.Load()
		},
	})
	if err != nil {
		s.gw.mu.Lock()
		d := &s.gw.dials[dial]
		d.Accepted, d.Status, d.Reason, d.ConnID = false, rec.status, err.Error(), ""
		s.gw.mu.Unlock()
		return
	}
	ws.SetReadLimit(maxBodyBytes)
	c.ws = ws
	s.gw.mu.Lock()
	s.gw.conns[c.id] = c
	s.gw.mu.Unlock()

	// The request's context is not to be used after a hijack: this one ends with the
	// server or the connection.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		_, raw, err := ws.Read(ctx)
		if err != nil {
			break
		}
		s.recordAck(c.id, raw)
	}
	_ = ws.CloseNow()

	s.gw.mu.Lock()
	delete(s.gw.conns, c.id)
	if c.closeTimer != nil {
		c.closeTimer.Stop()
	}
	s.gw.mu.Unlock()
}

// admitDial checks and spends a ticket and records the dial. It returns the connection
// to open and the index of its dial record, or the status and reason of the refusal.
// A dial is recorded as accepted before the upgrade, so that Dials lists it by the time
// the client sees the upgrade; Connections lists it a moment later.
func (s *Server) admitDial(ticket string) (*gatewayConn, int, int, string) {
	now := s.now()
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	t := s.gw.tickets[ticket]
	status, reason := 0, ""
	switch {
	case t == nil:
		status, reason = http.StatusUnauthorized, "unknown ticket"
	case t.Used:
		status, reason = http.StatusForbidden, "ticket already used"
	case !now.Before(t.IssuedAt.Add(TicketTTL)):
		status, reason = http.StatusForbidden, "ticket expired"
	default:
		t.Used, t.UsedAt = true, now
		if s.gw.refuse > 0 {
			s.gw.refuse--
			status, reason = http.StatusServiceUnavailable, "dial refused (RefuseDials)"
		}
	}
	if status != 0 {
		s.gw.dials = append(s.gw.dials, Dial{At: now, Ticket: ticket, Status: status, Reason: reason})
		return nil, 0, status, reason
	}
	s.gw.seq++
	c := &gatewayConn{id: "conn-" + strconv.Itoa(s.gw.seq), seq: s.gw.seq, ticket: ticket, openedAt: now, app: s.apps[t.AppKey]}
	s.gw.dials = append(s.gw.dials, Dial{At: now, Ticket: ticket, Accepted: true, Status: http.StatusSwitchingProtocols, ConnID: c.id})
	return c, len(s.gw.dials) - 1, 0, ""
}

// statusRecorder notes the status a handler answers with; Unwrap lets the WebSocket
// upgrade find the Hijacker underneath.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// recordAck records one message a client sent.
func (s *Server) recordAck(connID string, raw []byte) {
	a := Ack{ConnID: connID, Raw: string(raw), At: s.now()}
	var wa wireAck
	if json.Unmarshal(raw, &wa) == nil {
		a.Code, a.MessageID, a.Message, a.Data = wa.Code, wa.Headers["messageId"], wa.Message, wa.Data
	}
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	s.gw.acks = append(s.gw.acks, a)
}

// conn returns the live connection id, or for "" the newest live connection that was
// not sent a disconnect frame, else the newest live one. The caller holds gw.mu.
func (g *gateway) conn(id string) (*gatewayConn, error) {
	if id != "" {
		if c, ok := g.conns[id]; ok {
			return c, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrNoConnection, id)
	}
	var best *gatewayConn
	for _, c := range g.conns {
		if best == nil || (best.draining && !c.draining) || (best.draining == c.draining && c.seq > best.seq) {
			best = c
		}
	}
	if best == nil {
		return nil, ErrNoConnection
	}
	return best, nil
}

// Push sends a frame of type typ and topic with data (a JSON string, sent as the data
// field) on connection connID ("" picks the newest live connection that was not sent a
// disconnect frame, else the newest live one) and returns its messageId.
func (s *Server) Push(connID, typ, topic, data string) (string, error) {
	s.gw.mu.Lock()
	c, err := s.gw.conn(connID)
	s.gw.mu.Unlock()
	if err != nil {
		return "", err
	}
	id := fmt.Sprintf("%s_%s", randomHex(4), randomHex(6))
	now := s.now()
	raw, err := json.Marshal(wireFrame{
		SpecVersion: "1.0",
		Type:        typ,
		Headers: map[string]string{
			"appId": c.app.key, "connectionId": c.id, "contentType": "application/json",
			"messageId": id, "time": strconv.FormatInt(now.UnixMilli(), 10), "topic": topic,
		},
		Data: data,
	})
	if err != nil {
		return "", fmt.Errorf("dingtalktest: encoding frame: %w", err)
	}
	if err := s.sendFrame(c, Frame{ConnID: c.id, Type: typ, Topic: topic, MessageID: id, Data: data, At: now, raw: raw}); err != nil {
		return "", err
	}
	return id, nil
}

// sendFrame writes f on c and records it.
func (s *Server) sendFrame(c *gatewayConn, f Frame) error {
	if err := c.write(f.raw); err != nil {
		return err
	}
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	s.gw.frames = append(s.gw.frames, f)
	return nil
}

// PushCallback sends a robot message callback (type CALLBACK, topic TopicBotMessage) on
// connection connID ("" as for Push) and returns its messageId. body is the callback: a
// string or []byte is sent as is (so it may be malformed), anything else as its JSON;
// either way, a JSON object without a robotCode (or with an empty one) gets the robotCode
// of the connection's app, as DingTalk's callbacks carry the robot they are for.
func (s *Server) PushCallback(connID string, body any) (string, error) {
	var data string
	switch b := body.(type) {
	case string:
		data = b
	case []byte:
		data = string(b)
	default:
		raw, err := json.Marshal(body)
		if err != nil {
			return "", fmt.Errorf("dingtalktest: encoding callback: %w", err)
		}
		data = string(raw)
	}
	s.gw.mu.Lock()
	c, err := s.gw.conn(connID)
	s.gw.mu.Unlock()
	if err != nil {
		return "", err
	}
	return s.Push(c.id, FrameCallback, TopicBotMessage, withRobotCode(data, c.app.robotCode))
}

// withRobotCode returns data, a callback body, with "robotCode": code added when it is a
// JSON object without a non-empty robotCode; anything else is returned as it is.
func withRobotCode(data, code string) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal([]byte(data), &fields) != nil || fields == nil {
		return data
	}
	if raw, ok := fields["robotCode"]; ok {
		var have string
		if json.Unmarshal(raw, &have) != nil || have != "" {
			return data
		}
		fields["robotCode"] = mustJSON(code)
		return string(mustJSON(fields))
	}
	open := strings.Index(data, "{") + 1 // the object's first byte, after any space
	sep := ","
	if len(fields) == 0 {
		sep = ""
	}
	return data[:open] + `"robotCode":` + string(mustJSON(code)) + sep + data[open:]
}

// PushRaw sends raw as a text message on connection connID ("" as for Push), for frames
// Push cannot build (numeric headers, malformed JSON). It is recorded with the messageId
// found in its headers, if any.
func (s *Server) PushRaw(connID string, raw []byte) error {
	s.gw.mu.Lock()
	c, err := s.gw.conn(connID)
	s.gw.mu.Unlock()
	if err != nil {
		return err
	}
	f := Frame{ConnID: c.id, At: s.now(), raw: slices.Clone(raw)}
	var probe struct {
		Type    string         `json:"type"`
		Headers map[string]any `json:"headers"`
		Data    string         `json:"data"`
	}
	if json.Unmarshal(raw, &probe) == nil {
		f.Type, f.Data = probe.Type, probe.Data
		f.Topic, f.MessageID = headerText(probe.Headers["topic"]), headerText(probe.Headers["messageId"])
	}
	return s.sendFrame(c, f)
}

// headerText is a header value as text: a string as is, a number in JSON form, "" for
// anything else.
func headerText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// SendPing sends a SYSTEM ping frame with opaque data on connection connID ("" as for
// Push) and returns its messageId; the client must answer it with code 200 and the same
// data.
func (s *Server) SendPing(connID string) (string, error) {
	data, _ := json.Marshal(map[string]string{"opaque": randomHex(8)})
	return s.Push(connID, FrameSystem, TopicPing, string(data))
}

// SendDisconnect sends a SYSTEM disconnect frame on connection connID ("" as for Push),
// marks it draining and closes it normally after the disconnect delay
// (WithDisconnectDelay). It returns the frame's messageId.
func (s *Server) SendDisconnect(connID string) (string, error) {
	s.gw.mu.Lock()
	c, err := s.gw.conn(connID)
	s.gw.mu.Unlock()
	if err != nil {
		return "", err
	}
	id, err := s.Push(c.id, FrameSystem, TopicDisconnect, `{"reason":"gateway maintenance"}`)
	if err != nil {
		return "", err
	}
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	c.draining = true
	if d := s.gw.disconnectDelay; d > 0 && c.closeTimer == nil {
		c.closeTimer = time.AfterFunc(d, func() { _ = c.ws.Close(websocket.StatusNormalClosure, "disconnected") })
	}
	return id, nil
}

// CloseConnection closes connection connID with a normal WebSocket close handshake.
func (s *Server) CloseConnection(connID string) error {
	s.gw.mu.Lock()
	c, err := s.gw.conn(connID)
	s.gw.mu.Unlock()
	if err != nil {
		return err
	}
	_ = c.ws.Close(websocket.StatusNormalClosure, "closed by the gateway")
	return nil
}

// DropConnection cuts connection connID ("" as for Push) at the TCP level, without a
// WebSocket close frame, as a failing network or gateway would.
func (s *Server) DropConnection(connID string) error {
	s.gw.mu.Lock()
	c, err := s.gw.conn(connID)
	s.gw.mu.Unlock()
	if err != nil {
		return err
	}
	_ = c.ws.CloseNow()
	return nil
}

// StopPongs makes connection connID ("" as for Push) stop answering WebSocket pings, as a
// dead peer would; frames pushed to it still go out.
func (s *Server) StopPongs(connID string) error {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	c, err := s.gw.conn(connID)
	if err != nil {
		return err
	}
	c.noPongs.Store(true)
	return nil
}

// Redeliver sends the frame with messageId again, byte for byte (same messageId), on
// connection connID ("" as for Push), as DingTalk does when an ack is late.
func (s *Server) Redeliver(messageID, connID string) error {
	s.gw.mu.Lock()
	i := slices.IndexFunc(s.gw.frames, func(f Frame) bool { return f.MessageID == messageID })
	var f Frame
	if i >= 0 {
		f = s.gw.frames[i]
	}
	c, err := s.gw.conn(connID)
	s.gw.mu.Unlock()
	if i < 0 {
		return fmt.Errorf("dingtalktest: no frame with messageId %q was sent", messageID)
	}
	if err != nil {
		return err
	}
	f.ConnID, f.At = c.id, s.now()
	return s.sendFrame(c, f)
}

// RefuseDials makes the next k dials that present a valid ticket fail with HTTP 503
// before the upgrade; their tickets are spent.
func (s *Server) RefuseDials(k int) {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	s.gw.refuse = max(k, 0)
}

// Tickets returns copies of every ticket issued, in issue order.
func (s *Server) Tickets() []Ticket {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	out := make([]Ticket, len(s.gw.issued))
	for i, t := range s.gw.issued {
		out[i] = *t
		out[i].Subscriptions = slices.Clone(t.Subscriptions)
	}
	return out
}

// Dials returns every dial of the WebSocket endpoint, accepted and refused, in arrival
// order.
func (s *Server) Dials() []Dial {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return slices.Clone(s.gw.dials)
}

// Connections returns the live connections, oldest first.
func (s *Server) Connections() []Connection {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	conns := make([]*gatewayConn, 0, len(s.gw.conns))
	for _, c := range s.gw.conns {
		conns = append(conns, c)
	}
	slices.SortFunc(conns, func(a, b *gatewayConn) int { return a.seq - b.seq })
	out := make([]Connection, len(conns))
	for i, c := range conns {
		out[i] = Connection{ID: c.id, Ticket: c.ticket, OpenedAt: c.openedAt, Draining: c.draining, Pings: int(c.pings.Load()), AppKey: c.app.key}
	}
	return out
}

// ConnectionsOf returns the live connections of the app appKey, oldest first.
func (s *Server) ConnectionsOf(appKey string) []Connection {
	var out []Connection
	for _, c := range s.Connections() {
		if c.AppKey == appKey {
			out = append(out, c)
		}
	}
	return out
}

// Frames returns every frame sent to clients, redeliveries included, in send order.
func (s *Server) Frames() []Frame {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return slices.Clone(s.gw.frames)
}

// Acks returns every message clients sent on gateway connections, in arrival order.
func (s *Server) Acks() []Ack {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return slices.Clone(s.gw.acks)
}

// AcksFor returns the acks naming messageID, in arrival order.
func (s *Server) AcksFor(messageID string) []Ack {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	var out []Ack
	for _, a := range s.gw.acks {
		if a.MessageID == messageID {
			out = append(out, a)
		}
	}
	return out
}

// Unacked returns the first sending of every frame no ack has named yet, in send order:
// what DingTalk would deliver again.
func (s *Server) Unacked() []Frame {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	acked := make(map[string]bool, len(s.gw.acks))
	for _, a := range s.gw.acks {
		acked[a.MessageID] = true
	}
	var out []Frame
	for _, f := range s.gw.frames {
		if f.MessageID != "" && !acked[f.MessageID] {
			acked[f.MessageID] = true // once per messageId
			out = append(out, f)
		}
	}
	return out
}
