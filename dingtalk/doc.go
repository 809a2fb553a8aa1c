// Package dingtalk is dingrecall's typed client for the parts of DingTalk's open
// API the bot uses: access tokens, sending robot messages into group, private and
// one-to-one chats, recalling them in batches, asking what became of a sent
// message, putting reactions on a person's message and taking them off
// (ReplyEmotion, RecallEmotion), delivering and updating interactive cards and
// decoding their button clicks, checking the signature of robot callbacks and
// reading the message a callback quotes (Callback.Quote), and opening Stream mode
// connections (OpenGateway, used by package stream, which shares the client's
// transport).
//
// The client knows nothing of commands or storage. It caches the access token,
// splits recalls into batches of at most 20 keys, keeps every API under a
// per-API QPS limit, retries the errors DingTalk asks callers to retry, and
// returns every failure as an *APIError. It never puts the app secret or an
// access token into an error string or a log line.
package dingtalk
