package dingtalktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

type openAnswer struct {
	Endpoint string `json:"endpoint"`
	Ticket   string `json:"ticket"`
}

// wireFrame is a frame as the gateway sends it.
type wireFrame struct {
	SpecVersion string            `json:"specVersion"`
	Type        string            `json:"type"`
	Headers     map[string]string `json:"headers"`
	Data        string            `json:"data"`
}

func openBody(s *dingtalktest.Server) map[string]any {
	return map[string]any{
		"clientId": s.AppKey(), "clientSecret": s.AppSecret(), "ua": "dingrecall/test", "localIp": "",
		"subscriptions": []map[string]string{{"type": "CALLBACK", "topic": dingtalktest.TopicBotMessage}},
	}
}

// openRequest is a connections/open request with the headers a client must send.
func openRequest(t *testing.T, s *dingtalktest.Server, body any) *http.Request {
	t.Helper()
	req := newRequest(t, context.Background(), s, dingtalktest.PathGatewayOpen, "", body)
	req.Header.Set("Accept", "application/json")
	return req
}

// ticket calls connections/open and returns its answer.
func ticket(t *testing.T, s *dingtalktest.Server) openAnswer {
	t.Helper()
	var res openAnswer
	requireOK(t, roundTrip(t, openRequest(t, s, openBody(s))), &res)
	require.NotEmpty(t, res.Ticket)
	return res
}

// dial opens a WebSocket with a ticket; it returns the HTTP status on refusal.
func dial(t *testing.T, endpoint, tk string) (*websocket.Conn, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, endpoint+"?ticket="+url.QueryEscape(tk), nil)
	if err != nil {
		require.NotNil(t, resp, err.Error())
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws, http.StatusSwitchingProtocols
}

// connect opens a connection with a fresh ticket and returns it with its id.
func connect(t *testing.T, s *dingtalktest.Server) (*websocket.Conn, string) {
	t.Helper()
	before := len(s.Connections())
	a := ticket(t, s)
	ws, status := dial(t, a.Endpoint, a.Ticket)
	require.Equal(t, http.StatusSwitchingProtocols, status)
	require.Eventually(t, func() bool { return len(s.Connections()) == before+1 }, 5*time.Second, time.Millisecond)
	conns := s.Connections()
	return ws, conns[len(conns)-1].ID
}

// readRaw reads one text message from ws.
func readRaw(t *testing.T, ws *websocket.Conn) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, raw, err := ws.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, websocket.MessageText, typ)
	return raw
}

// readFrame reads one frame from ws.
func readFrame(t *testing.T, ws *websocket.Conn) (wireFrame, []byte) {
	t.Helper()
	raw := readRaw(t, ws)
	var f wireFrame
	require.NoError(t, json.Unmarshal(raw, &f), string(raw))
	return f, raw
}

func writeAck(t *testing.T, ws *websocket.Conn, messageID string, code int, data string) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"code": code, "headers": map[string]string{"messageId": messageID, "contentType": "application/json"},
		"message": "OK", "data": data,
	})
	require.NoError(t, err)
	require.NoError(t, ws.Write(context.Background(), websocket.MessageText, raw))
}

func TestGatewayOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       func(b map[string]any)
		header     func(r *http.Request)
		raw        string
		fault      bool
		wantStatus int
		wantCode   string
	}{
		{name: "ok", wantStatus: http.StatusOK},
		{name: "wrong secret", body: func(b map[string]any) { b["clientSecret"] = "nope" }, wantStatus: 400, wantCode: "invalidClientIdOrSecret"},
		{name: "wrong key", body: func(b map[string]any) { b["clientId"] = "nope" }, wantStatus: 400, wantCode: "invalidClientIdOrSecret"},
		{name: "no subscriptions", body: func(b map[string]any) { delete(b, "subscriptions") }, wantStatus: 400, wantCode: "invalidParameter.param.invalid"},
		{name: "bad subscription type", body: func(b map[string]any) {
			b["subscriptions"] = []map[string]string{{"type": "NOPE", "topic": "x"}}
		}, wantStatus: 400, wantCode: "invalidParameter.param.invalid"},
		{name: "subscription without topic", body: func(b map[string]any) {
			b["subscriptions"] = []map[string]string{{"type": "CALLBACK"}}
		}, wantStatus: 400, wantCode: "invalidParameter.param.invalid"},
		{name: "malformed body", raw: `{"clientId":`, wantStatus: 400, wantCode: "invalidParameter.param.invalid"},
		{name: "not json", header: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, wantStatus: 400, wantCode: "invalidParameter.param.invalid"},
		{name: "method", header: func(r *http.Request) { r.Method = http.MethodGet }, wantStatus: 405, wantCode: "InvalidAction.MethodNotAllowed"},
		{name: "injected fault", fault: true, wantStatus: 500, wantCode: "system.error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := dingtalktest.NewTest(t)
			if tt.fault {
				s.FailNextOn(dingtalktest.PathGatewayOpen, 1, dingtalktest.FaultSystemError)
			}
			var body any = tt.raw
			if tt.raw == "" {
				b := openBody(s)
				if tt.body != nil {
					tt.body(b)
				}
				body = b
			}
			req := openRequest(t, s, body)
			if tt.header != nil {
				tt.header(req)
			}
			a := roundTrip(t, req)
			assert.Equal(t, 1, s.CallCount(dingtalktest.PathGatewayOpen))
			if tt.wantCode != "" {
				requireError(t, a, tt.wantStatus, tt.wantCode)
				assert.Empty(t, s.Tickets())
				return
			}
			var res openAnswer
			requireOK(t, a, &res)
			assert.Equal(t, "ws://"+strings.TrimPrefix(s.URL(), "http://")+"/connect", res.Endpoint)
			tickets := s.Tickets()
			require.Len(t, tickets, 1)
			assert.Equal(t, res.Ticket, tickets[0].Value)
			assert.Equal(t, "dingrecall/test", tickets[0].UA)
			assert.Equal(t, []dingtalktest.Subscription{{Type: "CALLBACK", Topic: dingtalktest.TopicBotMessage}}, tickets[0].Subscriptions)
			assert.False(t, tickets[0].Used)
		})
	}
}

func TestGatewayOpenNeedsAcceptJSON(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	for _, accept := range []string{"", "application/xml", "*/*"} {
		req := openRequest(t, s, openBody(s))
		req.Header.Set("Accept", accept)
		a := roundTrip(t, req)
		assert.Equal(t, http.StatusNotAcceptable, a.status, accept)
		assert.True(t, strings.HasPrefix(string(a.body), "<Error>"), string(a.body))
	}
	req := openRequest(t, s, openBody(s))
	req.Header.Set("Accept", "text/html, application/json;q=0.9")
	assert.Equal(t, http.StatusOK, roundTrip(t, req).status)
	assert.Len(t, s.Tickets(), 1)
}

func TestGatewayTickets(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now))
	tests := []struct {
		name       string
		ticket     func() (endpoint, ticket string)
		wantStatus int
	}{
		{name: "fresh", ticket: func() (string, string) { a := ticket(t, s); return a.Endpoint, a.Ticket }, wantStatus: 101},
		{name: "unknown", ticket: func() (string, string) { return ticket(t, s).Endpoint, "not-a-ticket" }, wantStatus: 401},
		{name: "none", ticket: func() (string, string) { return ticket(t, s).Endpoint, "" }, wantStatus: 401},
		{name: "used", ticket: func() (string, string) {
			a := ticket(t, s)
			_, status := dial(t, a.Endpoint, a.Ticket)
			require.Equal(t, 101, status)
			return a.Endpoint, a.Ticket
		}, wantStatus: 403},
		{name: "just before expiry", ticket: func() (string, string) {
			a := ticket(t, s)
			clk.Advance(dingtalktest.TicketTTL - time.Millisecond)
			return a.Endpoint, a.Ticket
		}, wantStatus: 101},
		{name: "expired", ticket: func() (string, string) {
			a := ticket(t, s)
			clk.Advance(dingtalktest.TicketTTL)
			return a.Endpoint, a.Ticket
		}, wantStatus: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint, tk := tt.ticket()
			before := len(s.Dials())
			_, status := dial(t, endpoint, tk)
			assert.Equal(t, tt.wantStatus, status)
			dials := s.Dials()
			require.Len(t, dials, before+1)
			d := dials[before]
			assert.Equal(t, tk, d.Ticket)
			assert.Equal(t, tt.wantStatus, d.Status)
			assert.Equal(t, tt.wantStatus == 101, d.Accepted)
			assert.Equal(t, clk.Now(), d.At)
			if d.Accepted {
				assert.NotEmpty(t, d.ConnID)
			} else {
				assert.NotEmpty(t, d.Reason)
			}
		})
	}
	// An expired ticket was never used; every accepted one was, once.
	for _, tk := range s.Tickets() {
		if tk.Used {
			assert.False(t, tk.UsedAt.Before(tk.IssuedAt))
		}
	}
}

func TestGatewayRefuseDials(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	s.RefuseDials(2)
	for _, want := range []int{503, 503, 101, 101} {
		a := ticket(t, s)
		_, status := dial(t, a.Endpoint, a.Ticket)
		assert.Equal(t, want, status)
	}
	tickets := s.Tickets()
	require.Len(t, tickets, 4)
	for _, tk := range tickets {
		assert.True(t, tk.Used, "a refused dial spends its ticket")
	}
	var accepted int
	for _, d := range s.Dials() {
		if d.Accepted {
			accepted++
		}
	}
	assert.Equal(t, 2, accepted)
	// A connection is listed a moment after its dial is accepted.
	assert.Eventually(t, func() bool { return len(s.Connections()) == 2 }, 5*time.Second, 5*time.Millisecond)
}

func TestGatewayNotAWebSocket(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	a := ticket(t, s)
	resp, err := http.Get(strings.Replace(a.Endpoint, "ws://", "http://", 1) + "?ticket=" + a.Ticket)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
	dials := s.Dials()
	require.Len(t, dials, 1)
	assert.Equal(t, http.StatusUpgradeRequired, dials[0].Status)
	assert.False(t, dials[0].Accepted)
	assert.Empty(t, s.Connections())
}

func TestGatewayPushAndAcks(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now))
	_, err := s.PushCallback("", map[string]string{"msgId": "m"})
	require.ErrorIs(t, err, dingtalktest.ErrNoConnection)

	ws, connID := connect(t, s)
	id, err := s.PushCallback("", map[string]string{"msgId": "m1", "conversationId": "cid1"})
	require.NoError(t, err)
	f, raw := readFrame(t, ws)
	assert.Equal(t, "1.0", f.SpecVersion)
	assert.Equal(t, "CALLBACK", f.Type)
	assert.Equal(t, map[string]string{
		"appId": s.AppKey(), "connectionId": connID, "contentType": "application/json", "messageId": id,
		"time": "1764147600000", "topic": "/v1.0/im/bot/messages/get",
	}, f.Headers)
	assert.JSONEq(t, `{"msgId":"m1","conversationId":"cid1","robotCode":"`+s.RobotCode()+`"}`, f.Data, "the connection's robotCode is filled in")
	assert.Equal(t, []dingtalktest.Frame{{ConnID: connID, Type: "CALLBACK", Topic: dingtalktest.TopicBotMessage, MessageID: id, Data: f.Data, At: clk.Now()}}, stripRaw(s.Frames()))
	require.Len(t, s.Unacked(), 1)

	writeAck(t, ws, id, 200, `{"response": null}`)
	require.Eventually(t, func() bool { return len(s.AcksFor(id)) == 1 }, 5*time.Second, time.Millisecond)
	a := s.AcksFor(id)[0]
	assert.Equal(t, dingtalktest.Ack{ConnID: connID, MessageID: id, Code: 200, Message: "OK", Data: `{"response": null}`, Raw: a.Raw, At: clk.Now()}, a)
	assert.Empty(t, s.Unacked())

	// A redelivery is the same bytes.
	require.NoError(t, s.Redeliver(id, ""))
	_, again := readFrame(t, ws)
	assert.Equal(t, raw, again)
	require.Error(t, s.Redeliver("no-such-id", ""))

	// Raw strings are sent as is; anything the client sends is recorded.
	_, err = s.PushCallback(connID, "not json")
	require.NoError(t, err)
	f, _ = readFrame(t, ws)
	assert.Equal(t, "not json", f.Data)
	require.NoError(t, ws.Write(context.Background(), websocket.MessageText, []byte("garbage")))
	require.Eventually(t, func() bool { return len(s.Acks()) == 2 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, dingtalktest.Ack{ConnID: connID, Raw: "garbage", At: clk.Now()}, s.Acks()[1])

	require.NoError(t, s.PushRaw("", []byte(`{"type":"CALLBACK","headers":{"messageId":42,"topic":"t"},"data":"x"}`)))
	assert.Equal(t, `{"type":"CALLBACK","headers":{"messageId":42,"topic":"t"},"data":"x"}`, string(readRaw(t, ws)))
	frames := s.Frames()
	assert.Equal(t, "42", frames[len(frames)-1].MessageID)

	_, err = s.PushCallback("conn-404", "{}")
	require.ErrorIs(t, err, dingtalktest.ErrNoConnection)
}

func stripRaw(frames []dingtalktest.Frame) []dingtalktest.Frame {
	out := make([]dingtalktest.Frame, len(frames))
	for i, f := range frames {
		out[i] = dingtalktest.Frame{ConnID: f.ConnID, Type: f.Type, Topic: f.Topic, MessageID: f.MessageID, Data: f.Data, At: f.At}
	}
	return out
}

func TestGatewaySystemFrames(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t, dingtalktest.WithDisconnectDelay(time.Millisecond))
	ws, connID := connect(t, s)

	id, err := s.SendPing(connID)
	require.NoError(t, err)
	f, _ := readFrame(t, ws)
	assert.Equal(t, "SYSTEM", f.Type)
	assert.Equal(t, "ping", f.Headers["topic"])
	assert.Equal(t, id, f.Headers["messageId"])
	assert.NotEmpty(t, f.Data)

	_, err = s.SendDisconnect("")
	require.NoError(t, err)
	f, _ = readFrame(t, ws)
	assert.Equal(t, "SYSTEM", f.Type)
	assert.Equal(t, "disconnect", f.Headers["topic"])
	// The gateway closes the connection after the delay, with a normal close.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = ws.Read(ctx)
	assert.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err), "%v", err)
	require.Eventually(t, func() bool { return len(s.Connections()) == 0 }, 5*time.Second, time.Millisecond)
}

func TestGatewayConnections(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t, dingtalktest.WithDisconnectDelay(0))
	ws1, id1 := connect(t, s)
	ws2, id2 := connect(t, s)
	conns := s.Connections()
	require.Len(t, conns, 2)
	assert.Equal(t, []string{id1, id2}, []string{conns[0].ID, conns[1].ID})

	// Pushes go to the newest connection that is not draining.
	_, err := s.SendDisconnect(id2)
	require.NoError(t, err)
	readFrame(t, ws2)
	assert.True(t, s.Connections()[1].Draining)
	_, err = s.PushCallback("", "{}")
	require.NoError(t, err)
	f, _ := readFrame(t, ws1)
	assert.Equal(t, id1, f.Headers["connectionId"])

	// Pings are counted and answered until StopPongs.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	readCtx := ws1.CloseRead(ctx) // something must read for the pong to be seen
	require.NoError(t, ws1.Ping(ctx))
	assert.Equal(t, 1, s.Connections()[0].Pings)
	require.NoError(t, s.StopPongs(id1))
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	require.Error(t, ws1.Ping(short))
	_ = readCtx

	// DropConnection cuts the TCP connection: no close frame.
	require.NoError(t, s.DropConnection(id2))
	_, _, err = ws2.Read(ctx)
	require.Error(t, err)
	assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "%v", err)
	require.Eventually(t, func() bool { return len(s.Connections()) == 1 }, 5*time.Second, time.Millisecond)

	require.ErrorIs(t, s.CloseConnection("conn-404"), dingtalktest.ErrNoConnection)
	require.ErrorIs(t, s.DropConnection("conn-404"), dingtalktest.ErrNoConnection)
	require.ErrorIs(t, s.StopPongs("conn-404"), dingtalktest.ErrNoConnection)
	_, err = s.SendDisconnect("conn-404")
	require.ErrorIs(t, err, dingtalktest.ErrNoConnection)
}

func TestGatewayCloseEndsConnections(t *testing.T) {
	t.Parallel()
	s := dingtalktest.New()
	ws, _ := connect(t, s)
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := ws.Read(ctx)
	require.Error(t, err)
	require.False(t, errors.Is(err, context.DeadlineExceeded), "the connection ended with the server")
	require.Eventually(t, func() bool { return len(s.Connections()) == 0 }, 5*time.Second, time.Millisecond)
}
