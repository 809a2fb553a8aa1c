package redis

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/dingrecall/dingrecall/store"
)

// The layout of a ledger's keys, with P its prefix and <chat> a chat ID
// (escaped: '%', '{' and '}' as %25, %7B and %7D, so that the hash tag
// always ends where the layout says). A chat's keys share the hash tag
// {P:c:<chat>}, so a Redis Cluster spreads chats over its slots while
// every script on one chat stays in one slot:
//
//	{P:c:<chat>}:z   zset of the chat's message keys by SentAt
//	{P:c:<chat>}:m   hash of message key to its body (see encodeBody)
//	{P:c:<chat>}:l   hash of message key to its claim, "until|holder|x"
//	{P:c:<chat>}:f   hash of message key to its failure (JSON)
//	{P:c:<chat>}:n   hash of message key to its failed automatic recalls
//	{P:c:<chat>}:i   hash of the chat: k kind, t title, f folded title
//	{P:c:<chat>}:r   hash of reservation ID to "<ms>\n<reservation JSON>"
//	{P:c:<chat>}:q   hash of reservation ID to its settlement lease end
//	{P:c:<chat>}:al  zset of the chat's audit entries (JSON) by time
//
// The keys that span chats are each a key of its own, or sharded over
// several hash tags, and every script touches one slot only:
//
//	P:k:<key>        string: the chat of message <key> (the directory)
//	{P:t:<tag>}      zset of "<chat>/<key>" members by SentAt, per tag
//	{P:d:<n>}        zset of "<chat>/<key>" by the next automatic recall
//	                 (ExpiresAt, later after failures), n < dueShards
//	{P:a:<n>}        zset of chat IDs by their newest SentAt, n < activeShards
//	{P:f:<fold>}     set of the chat IDs with that case-folded title
//	{P:r}:q          zset of reservation ID by reservation time
//	{P:r}:c          hash of reservation ID to its chat
//	{P:al:<n>}       zset of every audit entry (JSON) by time, n < auditShards
//	P:s:<key>        a state; P:s:e:<key> an events zset
//	P:dedup:<id>     a callback ID seen
//	P:probe:<n>      readiness probes, n < probes
//	P:layout         "2" once the layout is in place (the migration marker)
//	P:migrate:lock   held while a replica migrates the single-tag layout
//	rate:P:rate:<app>:<api>  the shared DingTalk rate limit (redis_rate)
//
// "<chat>/<key>" is written member(chat, key): the chat's length, a colon,
// the chat and the key, so that any chat and key split back apart.
const (
	// dueShards is how many zsets the due index is spread over.
	dueShards = 16
	// activeShards is how many zsets the chat list is spread over.
	activeShards = 16
	// auditShards is how many zsets the global audit log is spread over.
	auditShards = 8
	// probes is how many keys, spread over the slots, Ping writes.
	probes = 16
	// layoutVersion is the value of the marker key of this layout.
	layoutVersion = "2"
)

// keys names the keys of a ledger with one prefix.
type keys struct{ p string }

// escape makes s safe inside a hash tag: no '{' or '}', and unambiguous.
func escape(s string) string {
	if !strings.ContainsAny(s, "%{}") {
		return s
	}
	r := strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")
	return r.Replace(s)
}

// chat returns the KEYS of every per-chat script, in the order
// lua/chat.lua names them.
func (k keys) chat(chat string) []string {
	t := "{" + k.p + ":c:" + escape(chat) + "}:"
	return []string{t + "z", t + "m", t + "l", t + "f", t + "n", t + "i", t + "r", t + "q"}
}

// chatAudit is the chat's audit zset.
func (k keys) chatAudit(chat string) string { return "{" + k.p + ":c:" + escape(chat) + "}:al" }

// dir is the directory entry of a message key.
func (k keys) dir(key string) string { return k.p + ":k:" + key }

// tag is the index of a tag.
func (k keys) tag(tag string) string { return "{" + k.p + ":t:" + escape(tag) + "}" }

// due is the due shard of a message key.
func (k keys) due(key string) string { return k.dueShard(shard(key, dueShards)) }

// dueShard names due shard n.
func (k keys) dueShard(n int) string { return "{" + k.p + ":d:" + strconv.Itoa(n) + "}" }

// active is the chat list shard of a chat.
func (k keys) active(chat string) string { return k.activeShard(shard(chat, activeShards)) }

// activeShard names chat list shard n.
func (k keys) activeShard(n int) string { return "{" + k.p + ":a:" + strconv.Itoa(n) + "}" }

// fold is the set of chats with a case-folded title.
func (k keys) fold(f string) string { return "{" + k.p + ":f:" + escape(f) + "}" }

// reservations are the KEYS of the reservation index scripts.
func (k keys) reservations() []string {
	return []string{"{" + k.p + ":r}:q", "{" + k.p + ":r}:c"}
}

// audit is the global audit shard of an entry ID.
func (k keys) audit(id string) string { return k.auditShard(shard(id, auditShards)) }

// auditShard names global audit shard n.
func (k keys) auditShard(n int) string { return "{" + k.p + ":al:" + strconv.Itoa(n) + "}" }

// probe names readiness probe n.
func (k keys) probe(n int) string { return k.p + ":probe:" + strconv.Itoa(n) }

// marker is the key that says the layout is in place.
func (k keys) marker() string { return k.p + ":layout" }

// lock is the migration lock.
func (k keys) lock() string { return k.p + ":migrate:lock" }

// shard picks one of n shards for s.
func shard(s string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return int(h.Sum32() % uint32(n))
}

// member is "<chat>/<key>" as the tag and due indexes keep it.
func member(chat, key string) string {
	return strconv.Itoa(len(chat)) + ":" + chat + key
}

// splitMember splits a member of the tag or due index; ok is false for
// one this layout did not write.
func splitMember(m string) (chat, key string, ok bool) {
	i := strings.IndexByte(m, ':')
	if i < 0 {
		return "", "", false
	}
	n, err := strconv.Atoi(m[:i])
	if err != nil || n < 0 || i+1+n > len(m) {
		return "", "", false
	}
	return m[i+1 : i+1+n], m[i+1+n:], true
}

// body is what a message hash field keeps of a message: everything but
// its key, chat (the hash's), failure and claim, which live beside it.
//
// Its header is what the scripts read: the reply flag ('1' or '0'), the
// expiry in Unix milliseconds ("" for none), ':', the tag's length, ':'
// and the tag. Then come length-prefixed ("<n>:<bytes>") the send time in
// Unix milliseconds, the kind, the robot code, the msgKey and the
// msgParam.
func encodeBody(m store.Message) string {
	var b strings.Builder
	if m.Reply {
		b.WriteByte('1')
	} else {
		b.WriteByte('0')
	}
	if !m.ExpiresAt.IsZero() {
		b.WriteString(strconv.FormatInt(m.ExpiresAt.UnixMilli(), 10))
	}
	b.WriteByte(':')
	for _, f := range []string{m.Tag, strconv.FormatInt(m.SentAt.UnixMilli(), 10), string(m.Kind), m.RobotCode, m.MsgKey, m.MsgParam} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return b.String()
}

// bodyFields are the fields of a decoded body.
type bodyFields struct {
	reply                                  bool
	expires                                string
	tag, sent, kind, robot, msgKey, params string
}

// decodeBody reads what encodeBody wrote.
func decodeBody(s string) (bodyFields, error) {
	var f bodyFields
	if len(s) < 2 {
		return f, fmt.Errorf("short message body %q", s)
	}
	f.reply = s[0] == '1'
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return f, fmt.Errorf("bad message body %q", s)
	}
	f.expires = s[1:i]
	rest := s[i+1:]
	for _, dst := range []*string{&f.tag, &f.sent, &f.kind, &f.robot, &f.msgKey, &f.params} {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return f, fmt.Errorf("bad message body %q", s)
		}
		n, err := strconv.Atoi(rest[:j])
		if err != nil || n < 0 || j+1+n > len(rest) {
			return f, fmt.Errorf("bad message body %q", s)
		}
		*dst = rest[j+1 : j+1+n]
		rest = rest[j+1+n:]
	}
	return f, nil
}
