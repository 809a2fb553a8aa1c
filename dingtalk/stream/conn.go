package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// conn is one WebSocket connection to the gateway. Two goroutines serve it: the reader
// (run), which reads every frame, dispatches it and writes its acknowledgement, and the
// keeper (keep), which pings a quiet connection and closes the connection when it goes
// dead, drains too long or Run's context ends. Only the reader writes data frames, and
// every write goes through write under writeMu; the keeper only sends WebSocket control
// frames (ping, close), which the library frames under its own lock.
type conn struct {
	c   *Client
	id  int64
	ws  *websocket.Conn
	log logrus.FieldLogger

	activity chan struct{} // a frame or a pong arrived; buffered, never closed

	draining  chan struct{} // closed when the gateway sent disconnect
	drainOnce sync.Once
	done      chan struct{} // closed when the connection has ended and its goroutines stopped

	writeMu sync.Mutex

	reasonMu sync.Mutex
	reason   string // why it ended
}

// connect opens a connection: a fresh ticket from connections/open, then the WebSocket
// dial. On failure it returns the Reason constant of the step that failed.
func (c *Client) connect(ctx context.Context) (*conn, string, error) {
	ep, err := c.open(ctx)
	if err != nil {
		return nil, ReasonOpen, err
	}
	cn := &conn{
		c:        c,
		id:       c.seq.Add(1),
		activity: make(chan struct{}, 1),
		draining: make(chan struct{}),
		done:     make(chan struct{}),
	}
	cn.log = c.log.WithField("conn", cn.id)

	target := ep.Endpoint + "?ticket=" + url.QueryEscape(ep.Ticket)
	if strings.Contains(ep.Endpoint, "?") {
		target = ep.Endpoint + "&ticket=" + url.QueryEscape(ep.Ticket)
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, target, &websocket.DialOptions{
		HTTPClient:     c.http,
		OnPongReceived: func(context.Context, []byte) { cn.touch() },
	})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		// The dial error may quote the URL, and so the ticket: never let it out.
		msg := strings.NewReplacer(ep.Ticket, redacted, url.QueryEscape(ep.Ticket), redacted).Replace(err.Error())
		return nil, ReasonDial, &dialError{endpoint: endpointName(ep.Endpoint), status: status, msg: msg, err: err}
	}
	ws.SetReadLimit(maxFrameBytes)
	cn.ws = ws
	cn.log.WithField("endpoint", endpointName(ep.Endpoint)).Info("dingtalk stream: connected")
	return cn, "", nil
}

// dialError is a failed WebSocket dial. Its text has the ticket removed; Unwrap still
// gives the cause (for errors.Is with context errors), whose own text may not.
type dialError struct {
	endpoint string
	status   int
	msg      string
	err      error
}

func (e *dialError) Error() string {
	if e.status != 0 {
		return fmt.Sprintf("stream: dialing %s: http %d: %s", e.endpoint, e.status, e.msg)
	}
	return fmt.Sprintf("stream: dialing %s: %s", e.endpoint, e.msg)
}

func (e *dialError) Unwrap() error { return e.err }

// endpointName is the endpoint without its query, for logs and errors.
func endpointName(endpoint string) string {
	if i := strings.IndexByte(endpoint, '?'); i >= 0 {
		return endpoint[:i]
	}
	return endpoint
}

// run serves the connection until it ends, then closes done. ctx is Run's context: when
// it ends the keeper closes the connection with a close handshake.
func (cn *conn) run(ctx context.Context) {
	defer close(cn.done)
	cn.c.setLive(1)
	defer cn.c.setLive(-1)

	// The reader's context is not Run's: ending Run closes the connection through the
	// keeper, with a close frame, rather than by cutting a read short.
	readCtx, stopRead := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cn.keep(ctx, readCtx)
		stopRead() // whatever ended the keeper ends the reader too
	}()

	err := cn.read(ctx, readCtx)
	stopRead()
	wg.Wait()
	_ = cn.ws.CloseNow()

	cn.setReason(ReasonClosed)
	fields := logrus.Fields{"reason": cn.endReason()}
	switch {
	case ctx.Err() != nil:
		cn.log.Debug("dingtalk stream: connection closed on shutdown")
	case websocket.CloseStatus(err) != -1:
		fields["status"] = int(websocket.CloseStatus(err))
		cn.log.WithFields(fields).Info("dingtalk stream: connection closed by the gateway")
	default:
		cn.log.WithFields(fields).WithError(err).Warn("dingtalk stream: connection ended")
	}
}

// keep closes the connection when ctx ends (normal close), when it stays quiet through a
// ping and the pong timeout, or when it drains for too long; it returns when readCtx
// ends.
func (cn *conn) keep(ctx, readCtx context.Context) {
	idle := time.NewTimer(cn.c.idle)
	defer idle.Stop()
	drain := time.NewTimer(drainTimeout)
	drain.Stop()
	defer drain.Stop()
	var drainLimit <-chan time.Time // drain.C once the connection drains
	draining := cn.draining
	for {
		select {
		case <-readCtx.Done():
			return
		case <-ctx.Done():
			_ = cn.ws.Close(websocket.StatusNormalClosure, closeReasonEnd)
			return
		case <-draining:
			draining = nil
			drain.Reset(drainTimeout)
			drainLimit = drain.C
		case <-drainLimit:
			cn.log.Warn("dingtalk stream: gateway did not close a draining connection, closing it")
			_ = cn.ws.Close(websocket.StatusNormalClosure, "drained")
			return
		case <-cn.activity:
			idle.Reset(cn.c.idle)
		case <-idle.C:
			if !cn.probe(readCtx) {
				if readCtx.Err() != nil {
					return
				}
				cn.setReason(ReasonKeepalive)
				cn.log.WithField("timeout", cn.c.pongTimeout.String()).Warn("dingtalk stream: no pong from the gateway, dropping the connection")
				_ = cn.ws.CloseNow()
				return
			}
			idle.Reset(cn.c.idle)
		}
	}
}

// probe sends a WebSocket ping and reports whether a pong or any frame arrived within
// the pong timeout.
func (cn *conn) probe(ctx context.Context) bool {
	select {
	case <-cn.activity: // something arrived since the timer fired
		return true
	default:
	}
	pctx, cancel := context.WithTimeout(ctx, cn.c.pongTimeout)
	defer cancel()
	if cn.ws.Ping(pctx) == nil {
		return true
	}
	select {
	case <-cn.activity:
		return true
	default:
		return false
	}
}

// touch notes that something arrived.
func (cn *conn) touch() {
	select {
	case cn.activity <- struct{}{}:
	default:
	}
}

func (cn *conn) setReason(r string) {
	cn.reasonMu.Lock()
	defer cn.reasonMu.Unlock()
	if cn.reason == "" {
		cn.reason = r
	}
}

// endReason is the Reason constant saying why the connection ended.
func (cn *conn) endReason() string {
	cn.reasonMu.Lock()
	defer cn.reasonMu.Unlock()
	return cn.reason
}

// read reads frames until the connection fails, dispatching each and writing its
// acknowledgement.
func (cn *conn) read(ctx, readCtx context.Context) error {
	for {
		_, raw, err := cn.ws.Read(readCtx)
		if err != nil {
			return err
		}
		cn.touch()
		var f frame
		if err := json.Unmarshal(raw, &f); err != nil {
			// Without headers there is no messageId to acknowledge.
			cn.log.WithError(err).Warn("dingtalk stream: undecodable frame, ignored")
			continue
		}
		topic := f.Headers["topic"]
		cn.c.observer.Frame(f.Type, topic)
		code, data := cn.dispatch(ctx, &f)
		if err := cn.ack(f.Headers["messageId"], code, data); err != nil {
			return err
		}
		if f.Type == TypeSystem && topic == TopicDisconnect {
			cn.drainOnce.Do(func() { close(cn.draining) })
		}
	}
}

// dispatch handles one frame and returns the code and data of its acknowledgement.
func (cn *conn) dispatch(ctx context.Context, f *frame) (int, string) {
	topic, id := f.Headers["topic"], f.Headers["messageId"]
	log := cn.log.WithFields(logrus.Fields{"type": f.Type, "topic": topic, "messageId": id})
	switch {
	case f.Type == TypeSystem && topic == TopicPing:
		return CodeOK, string(f.Data)
	case f.Type == TypeSystem && topic == TopicDisconnect:
		log.Info("dingtalk stream: gateway will close the connection")
		return CodeOK, emptyResponse
	case f.Type == TypeCallback && topic == TopicBotMessage:
		return cn.c.deliver(ctx, log, id, []byte(f.Data)), emptyResponse
	}
	log.Debug("dingtalk stream: no handler for frame")
	return CodeNotFound, emptyResponse
}

// deliver hands a robot callback to the handler unless it was handled before, and
// returns the acknowledgement code.
func (c *Client) deliver(ctx context.Context, log logrus.FieldLogger, messageID string, data []byte) int {
	cb, err := dingtalk.DecodeCallback(data)
	if err != nil {
		log.WithError(err).Warn("dingtalk stream: malformed robot callback")
		return CodeFailed
	}
	keys := []string{"", "msg:" + cb.MsgID}
	if messageID != "" {
		keys[0] = "frame:" + messageID
	}
	if !c.seen.claim(c.now(), keys...) {
		log.WithField("msgId", cb.MsgID).Debug("dingtalk stream: callback delivered again, acknowledged without handling")
		return CodeOK
	}
	if err := c.handle(ctx, cb); err != nil {
		c.seen.release(keys...)
		log.WithError(err).WithField("msgId", cb.MsgID).Warn("dingtalk stream: handler failed")
		return CodeFailed
	}
	return CodeOK
}

// ack writes the acknowledgement of the frame with messageID.
func (cn *conn) ack(messageID string, code int, data string) error {
	raw, err := json.Marshal(ack{
		Code:    code,
		Headers: map[string]string{"messageId": messageID, "contentType": "application/json"},
		Message: messageText(code),
		Data:    data,
	})
	if err != nil {
		return fmt.Errorf("stream: encoding ack: %w", err)
	}
	if err := cn.write(raw); err != nil {
		return err
	}
	cn.c.observer.Ack(code)
	return nil
}

// write sends one text message; writes are serialised and bounded in time.
func (cn *conn) write(raw []byte) error {
	cn.writeMu.Lock()
	defer cn.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := cn.ws.Write(ctx, websocket.MessageText, raw); err != nil {
		return fmt.Errorf("stream: writing ack: %w", err)
	}
	return nil
}
