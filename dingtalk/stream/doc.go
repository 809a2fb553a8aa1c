// Package stream receives DingTalk robot callbacks over Stream mode: an outbound
// WebSocket to DingTalk's gateway, so the bot needs no public URL.
//
// A Client runs on a *dingtalk.Client: it opens a connection by calling connections/open
// through that client (dingtalk.Client.OpenGateway: the same base URL, HTTP client, QPS
// limit, timeout, observer, redaction and *dingtalk.APIError as every other DingTalk
// call) for a single-use ticket, dials the endpoint it names with the same HTTP client,
// then reads frames. It logs to that client's logger and reads its clock. It acknowledges
// every frame, echoes SYSTEM ping frames, answers topics it does not handle with 404 and
// hands each new robot callback (CALLBACK /v1.0/im/bot/messages/get) to its Handler,
// acknowledging the frame right after the handler returns and before the work it queued
// runs. Redelivered callbacks (the same messageId, or the same msgId in the body) are
// acknowledged again but not handed over twice. With WithCardHandler it also subscribes
// to interactive card button clicks (CALLBACK /v1.0/card/instances/callback) and hands
// each new one to the CardHandler the same way.
//
// Run supervises the connection: one reader per connection, writes serialised, a fresh
// ticket for every dial, an immediate redial when the gateway announces a disconnect (the
// old connection is read until it closes), and jittered exponential backoff after
// failures, from 1 s to 60 s by default. A connection that delivered a frame, or stayed
// up for the longest backoff, resets the backoff, so a network that drops sockets every
// few seconds redials after about a second, not a minute.
//
// Keepalive: the client sends a WebSocket ping on every connection every 60 s, as
// DingTalk's own SDKs do, and drops the connection when neither the pong nor any frame
// arrives within 5 s (WithKeepalive changes both). A socket that goes silent is noticed
// within 65 s: Connected turns false (so the app's /readyz answers 503) and the redial
// starts, after the first backoff step.
//
// Rejected credentials: when connections/open answers 401 or 403 (other than a throttling
// or quota answer), or invalidClientIdOrSecret, the client logs an error that names
// DINGTALK_APP_KEY and DINGTALK_APP_SECRET and tells Observer.StreamAuthFailure (the
// app's dingrecall_stream_auth_failures_total), then retries with backoff like any other
// failure, so a corrected secret recovers without a restart.
//
// When Run's context ends it closes every connection and returns once all its goroutines
// have stopped. The protocol is DingTalk's, as written down in the project's
// dingtalk-stream.md; the app secret and tickets never appear in logs or errors.
package stream
