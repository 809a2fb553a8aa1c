package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Frame types and the topics the client handles.
const (
	// TypeSystem is the type of the gateway's own frames.
	TypeSystem = "SYSTEM"
	// TypeEvent is the type of event frames (the client subscribes to none).
	TypeEvent = "EVENT"
	// TypeCallback is the type of callback frames.
	TypeCallback = "CALLBACK"

	// TopicPing is the SYSTEM topic answered with the frame's own data.
	TopicPing = "ping"
	// TopicDisconnect is the SYSTEM topic announcing that the gateway will close the
	// connection in about ten seconds.
	TopicDisconnect = "disconnect"
	// TopicBotMessage is the CALLBACK topic of robot messages.
	TopicBotMessage = "/v1.0/im/bot/messages/get"
)

// Acknowledgement codes.
const (
	// CodeOK acknowledges a frame that was handled.
	CodeOK = 200
	// CodeNotFound acknowledges a frame whose topic the client does not handle.
	CodeNotFound = 404
	// CodeFailed acknowledges a frame whose handling failed; DingTalk may deliver it again.
	CodeFailed = 500
)

// emptyResponse is the data of every acknowledgement but a ping's.
const emptyResponse = `{"response": null}`

// frame is a message from the gateway.
type frame struct {
	SpecVersion string  `json:"specVersion"`
	Type        string  `json:"type"`
	Headers     headers `json:"headers"`
	Data        payload `json:"data"`
}

// ack is the client's acknowledgement of one frame.
type ack struct {
	Code    int               `json:"code"`
	Headers map[string]string `json:"headers"`
	Message string            `json:"message"`
	Data    string            `json:"data"`
}

// headers are a frame's headers. DingTalk sends string values; numbers and booleans are
// taken in their JSON form, null as "".
type headers map[string]string

// UnmarshalJSON decodes a headers object whose values may be strings or numbers.
func (h *headers) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("frame headers: %w", err)
	}
	out := make(headers, len(raw))
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("frame header %q: %w", k, err)
			}
			out[k] = s
		case bytes.Equal(v, []byte("null")):
			out[k] = ""
		default:
			out[k] = string(v)
		}
	}
	*h = out
	return nil
}

// payload is a frame's data: a JSON string holding a JSON document. A document sent
// directly, not as a string, is taken as its raw text.
type payload string

// UnmarshalJSON decodes data that should be a string but may be a JSON document.
func (p *payload) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("frame data: %w", err)
		}
		*p = payload(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*p = ""
		return nil
	}
	*p = payload(b)
	return nil
}

// messageText is the message of an acknowledgement with code.
func messageText(code int) string {
	switch code {
	case CodeOK:
		return "OK"
	case CodeNotFound:
		return "no handler for this topic"
	}
	return "handler failed"
}
