// Package stream receives DingTalk robot callbacks over Stream mode: an outbound
// WebSocket to DingTalk's gateway, so the bot needs no public URL.
//
// A Client opens a connection by calling connections/open for a single-use ticket and
// dialing the endpoint it names, then reads frames. It acknowledges every frame, echoes
// SYSTEM ping frames, answers topics it does not handle with 404 and hands each new robot
// callback (CALLBACK /v1.0/im/bot/messages/get) to its Handler, acknowledging the frame
// right after the handler returns and before the work it queued runs. Redelivered
// callbacks (the same messageId, or the same msgId in the body) are acknowledged again but
// not handed over twice.
//
// Run supervises the connection: one reader per connection, writes serialised, a
// WebSocket ping after a quiet spell and a drop when no pong follows, a fresh ticket for
// every dial, an immediate redial when the gateway announces a disconnect (the old
// connection is read until it closes), and jittered exponential backoff after failures.
// When Run's context ends it closes every connection and returns once all its goroutines
// have stopped.
//
// The protocol is DingTalk's, as written down in the project's dingtalk-stream.md; the
// app secret and tickets never appear in logs or errors.
package stream
