package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// conn is one WebSocket connection to the gateway. Two goroutines serve it: the reader
// (run), which reads every frame, dispatches it and writes its acknowledgement, and the
// keeper (keep), which pings the connection every ping interval, closes it when a ping
// goes unanswered, it drains too long or Run's context ends. Only the reader writes data
// frames, and every write goes through write under writeMu; the keeper only sends
// WebSocket control frames (ping, close), which the library frames under its own lock.
type conn struct {
	c   *Client
	id  int64
	ws  *websocket.Conn
	log logrus.FieldLogger

	activity  chan struct{} // a frame arrived; buffered, never closed
	delivered atomic.Bool   // a frame arrived at some point

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
	tk, err := c.api.OpenGateway(ctx, c.ua, c.subscriptions()...)
	if err != nil {
		return nil, ReasonOpen, fmt.Errorf("stream: opening a connection: %w", err)
	}
	cn := &conn{
		c:        c,
		id:       c.seq.Add(1),
		activity: make(chan struct{}, 1),
		draining: make(chan struct{}),
		done:     make(chan struct{}),
	}
	cn.log = c.log.WithField("conn", cn.id)

	target := tk.Endpoint + "?ticket=" + url.QueryEscape(tk.Ticket)
	if strings.Contains(tk.Endpoint, "?") {
		target = tk.Endpoint + "&ticket=" + url.QueryEscape(tk.Ticket)
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, target, &websocket.DialOptions{HTTPClient: c.api.HTTPClient()})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		// The dial error may quote the URL, and so the ticket: never let it out.
		msg := c.api.Redact(err.Error(), tk.Ticket)
		return nil, ReasonDial, &dialError{endpoint: endpointName(tk.Endpoint), status: status, msg: msg, err: err}
	}
	ws.SetReadLimit(maxFrameBytes)
	cn.ws = ws
	cn.log.WithField("endpoint", endpointName(tk.Endpoint)).Info("dingtalk stream: connected")
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

// keep pings the connection every ping interval and closes it when no pong and no frame
// arrives within the pong timeout of a ping (reason keepalive), when it drains for too
// long, or when ctx ends (normal close). It returns when readCtx ends, or after closing.
func (cn *conn) keep(ctx, readCtx context.Context) {
	t := cn.c.timers
	next := t.NewTimer(cn.c.pingInterval) // the next ping; nil while one is out
	var deadline, drain Timer             // the pong deadline of the ping out; the drain limit
	var pong chan error                   // the answer of the ping out; nil when none is
	stopPing := func() {}                 // gives up waiting for the ping out
	heard := false                        // a frame arrived since the ping went out
	draining := cn.draining
	defer func() {
		for _, tm := range []Timer{next, deadline, drain} {
			if tm != nil {
				tm.Stop()
			}
		}
		stopPing()
		if pong != nil {
			<-pong
		}
	}()
	for {
		select {
		case <-readCtx.Done():
			return
		case <-ctx.Done():
			_ = cn.ws.Close(websocket.StatusNormalClosure, closeReasonEnd)
			return
		case <-draining:
			draining = nil
			drain = t.NewTimer(drainTimeout)
		case <-timerC(drain):
			cn.log.Warn("dingtalk stream: gateway did not close a draining connection, closing it")
			_ = cn.ws.Close(websocket.StatusNormalClosure, "drained")
			return
		case <-cn.activity:
			heard = true
		case <-timerC(next):
			next, heard = nil, false
			select { // what arrived before the ping says nothing about its answer
			case <-cn.activity:
			default:
			}
			pctx, cancel := context.WithCancel(readCtx)
			pong, stopPing = make(chan error, 1), cancel
			go func(answer chan<- error) { answer <- cn.ws.Ping(pctx) }(pong)
			deadline = t.NewTimer(cn.c.pongTimeout)
		case err := <-pong:
			pong = nil
			stopPing()
			deadline.Stop()
			deadline = nil
			if err != nil {
				// Only a closed or broken connection fails a ping before its deadline;
				// the reader sees the same and ends the connection.
				cn.log.WithError(err).Debug("dingtalk stream: ping failed")
				return
			}
			next = t.NewTimer(cn.c.pingInterval)
		case <-timerC(deadline):
			deadline = nil
			stopPing()
			if err := <-pong; err == nil {
				heard = true // the pong came with the deadline
			}
			pong = nil
			select { // a frame that came with the deadline counts too
			case <-cn.activity:
				heard = true
			default:
			}
			if !heard {
				cn.setReason(ReasonKeepalive)
				cn.log.WithField("timeout", cn.c.pongTimeout.String()).Warn("dingtalk stream: no pong from the gateway, dropping the connection")
				_ = cn.ws.CloseNow()
				return
			}
			// No pong, but a frame came: the connection is alive.
			next = t.NewTimer(cn.c.pingInterval)
		}
	}
}

// touch notes that a frame arrived.
func (cn *conn) touch() {
	cn.delivered.Store(true)
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
	case f.Type == TypeCallback && topic == TopicBotMessage && !cn.c.cardsOnly:
		return cn.c.deliver(ctx, log, id, []byte(f.Data)), emptyResponse
	case f.Type == TypeCallback && topic == TopicCardCallback && cn.c.handleCard != nil:
		return cn.c.deliverCard(ctx, log, id, []byte(f.Data)), emptyResponse
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
	if !c.seen.claim(c.api.Now(), keys...) {
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
