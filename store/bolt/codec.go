package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// messageFormat is the first byte of a message record; a record starting
// with another byte is refused, so that a later format can be told apart.
const messageFormat = 1

// Flags of a message record.
const (
	flagReply  = 1 << iota // Message.Reply
	flagLapsed             // claimed, or a claim lapsed: reload as lapsed
	flagDue                // ExpiresAt follows SentAt
)

// errCorrupt is a record that cannot be decoded.
var errCorrupt = errors.New("corrupt record")

// encodeMessage lays m out (its key is the record's key): the format byte,
// flags, the kind, SentAt and, with flagDue, ExpiresAt as Unix nanoseconds
// (varints), then chat ID, robot code, msgKey, msgParam, tag and failure,
// each a uvarint length and its bytes. It is several times faster than
// JSON, which the write path would otherwise spend most of its time in.
func encodeMessage(buf []byte, m store.Message) []byte {
	var flags byte
	if m.Reply {
		flags |= flagReply
	}
	if m.Lapsed {
		flags |= flagLapsed
	}
	if !m.ExpiresAt.IsZero() {
		flags |= flagDue
	}
	buf = append(buf, messageFormat, flags, kindCode(m.Kind))
	buf = binary.AppendVarint(buf, m.SentAt.UnixNano())
	if flags&flagDue != 0 {
		buf = binary.AppendVarint(buf, m.ExpiresAt.UnixNano())
	}
	for _, s := range []string{m.ChatID, m.RobotCode, m.MsgKey, m.MsgParam, m.Tag, m.Failure.Code, m.Failure.Message} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	return buf
}

// decodeMessage reads a record encodeMessage wrote under key.
func decodeMessage(key string, b []byte) (store.Message, error) {
	d := decoder{b: b}
	if d.byte() != messageFormat {
		return store.Message{}, fmt.Errorf("message %q: %w: unknown format", key, errCorrupt)
	}
	flags := d.byte()
	m := store.Message{Key: key, Kind: kindOf(d.byte()), Reply: flags&flagReply != 0, Lapsed: flags&flagLapsed != 0}
	m.SentAt = time.Unix(0, d.varint()).UTC()
	if flags&flagDue != 0 {
		m.ExpiresAt = time.Unix(0, d.varint()).UTC()
	}
	for _, s := range []*string{&m.ChatID, &m.RobotCode, &m.MsgKey, &m.MsgParam, &m.Tag, &m.Failure.Code, &m.Failure.Message} {
		*s = d.string()
	}
	if d.err != nil || len(d.b) != 0 {
		return store.Message{}, fmt.Errorf("message %q: %w", key, errCorrupt)
	}
	return m, nil
}

// The kinds by their code in a record.
var kinds = [...]store.Kind{store.KindGroup, store.KindPrivate, store.KindOTO}

func kindCode(k store.Kind) byte {
	for i, v := range kinds {
		if v == k {
			return byte(i)
		}
	}
	return 0
}

func kindOf(c byte) store.Kind {
	if int(c) < len(kinds) {
		return kinds[c]
	}
	return ""
}

// decoder reads a record, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = errCorrupt, nil }

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.fail()
		return ""
	}
	s := string(d.b[k : k+int(n)])
	d.b = d.b[k+int(n):]
	return s
}

// auditKey is the key of an audit entry: its time as 8 big-endian bytes,
// ordered as the times are (the sign bit flipped), then its ID, so that a
// cursor walks the log oldest first.
func auditKey(e store.AuditEntry) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(e.ID)), uint64(e.At.UnixNano())^1<<63)
	return append(k, e.ID...)
}

// auditTime reads the time of an audit entry from its key.
func auditTime(k []byte) (time.Time, bool) {
	if len(k) < 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k)^1<<63)), true
}
